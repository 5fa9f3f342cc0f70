"""A folder's Prefect home: its files and the environment of every Prefect process of it.

Shared by `prefect_env` (where flow runs go) and `service` (the supervisor that starts the
folder's Prefect server), so that neither imports the other for these facts.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.config import Settings

UI_LOCK_FILE = "bid-ui.lock"
UI_STATE_FILE = "bid-ui.json"
TEMPORARY_SERVER_START_TIMEOUT_S = 120
"""Prefect's own default (20 s) is too short for a first run on a busy 2-core machine."""


def base_environment(settings: Settings) -> dict[str, str]:
    """The variables every Prefect process of this project gets (server, worker, flow run)."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": settings.prefect_log_level,
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(TEMPORARY_SERVER_START_TIMEOUT_S),
    }


def lock_path(settings: Settings) -> Path:
    return settings.prefect_home / UI_LOCK_FILE


def state_path(settings: Settings) -> Path:
    return settings.prefect_home / UI_STATE_FILE
