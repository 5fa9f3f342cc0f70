"""A folder's Prefect home: its files and the environment of every Prefect process of it.

Shared by `prefect_env` (where flow runs go) and `service` (the supervisor that starts the
folder's Prefect server), so that neither imports the other for these facts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from orchestrator.config import Settings

AUTH_FILE = "prefect-auth"
AUTH_USER = "bid"

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


def auth_path(settings: Settings) -> Path:
    return settings.data_dir / AUTH_FILE


def ensure_auth_string(settings: Settings) -> str:
    """The folder's Prefect auth string, made now when there is none yet."""
    return auth_string(settings, create=True) or ""


def auth_string(settings: Settings, *, create: bool = False) -> str | None:
    """The folder's Prefect server's basic-auth string (`bid:<secret>`), kept in the data
    folder with mode 0600. Its server refuses every API call without it (health aside), so
    another local user, or a page of another origin, cannot start runs; the folder's own
    processes send it (PREFECT_API_AUTH_STRING), and a person signs in to the UI with it.
    `create` makes it when missing (the supervisor, before it starts the server)."""
    path = auth_path(settings)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if text or not create:
        return text or None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = f"{AUTH_USER}:{secrets.token_urlsafe(24)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return text
