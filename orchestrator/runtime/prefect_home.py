"""A folder's Prefect home: its files and the environment of every Prefect process of it.

Shared by `prefect_env` (where flow runs go) and `service` (the supervisor that starts the
folder's Prefect server), so that neither imports the other for these facts.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from orchestrator.config import Settings

AUTH_FILE = "prefect-auth"
AUTH_USER = "bid"
SERVICE_ID_FILE = "service.id"
IDENTITY_VARIABLE = "bid_service_id"
"""The Prefect variable in which a folder's Prefect server keeps the folder's service id."""
IDENTITY_TIMEOUT_S = 1.0

UI_LOCK_FILE = "bid-ui.lock"
UI_STATE_FILE = "bid-ui.json"
TEMPORARY_SERVER_START_TIMEOUT_S = 120
"""Prefect's own default (20 s) is too short for a first run on a busy 2-core machine."""

SERVER_TUNING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}
"""What a Prefect server of ours runs with besides its defaults. The task run recorder
writes the states of task runs from their events; Prefect's default writes every event
alone (batch size 1), each in its own transaction with its SQL compiled again: a quarter
of the server's CPU in production mode, where each bid is carried by five task runs of
four states each. In batches of up to 100, at least once a second, a run's state shows in
the UI within a second (measured: the server's CPU a bid 0.38-0.40 -> 0.26-0.30 s)."""


def base_environment(settings: Settings) -> dict[str, str]:
    """The variables every Prefect process of this project gets (server, worker, flow run)."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": settings.prefect_log_level,
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(TEMPORARY_SERVER_START_TIMEOUT_S),
        **SERVER_TUNING,
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


def service_id_path(settings: Settings) -> Path:
    return settings.data_dir / SERVICE_ID_FILE


def service_id(settings: Settings, *, create: bool = False) -> str | None:
    """The folder's service identity: a random id in `<data dir>/service.id` (mode 0600).

    The folder's Prefect server keeps it (the Prefect variable `bid_service_id`) and its JSON
    API answers it (`/health`), so a command knows a server on a port is its folder's and not
    another folder's or a stranger's that took the same port. `create` makes it when missing
    (the supervisor, before it starts anything)."""
    path = service_id_path(settings)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if text or not create:
        return text or None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = secrets.token_hex(16)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return text


def _prefect_request(
    api_url: str, path: str, auth: str | None, body: object = None, method: str = "GET"
) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{api_url.rstrip('/')}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(auth.encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=IDENTITY_TIMEOUT_S) as reply:
        raw = reply.read()
    return json.loads(raw) if raw else None


def prefect_identity(api_url: str, auth: str | None) -> str | None:
    """The service id the Prefect server at `api_url` keeps, or None (none kept, a refused
    password, another kind of server, nobody there)."""
    try:
        answer = _prefect_request(api_url, f"/variables/name/{IDENTITY_VARIABLE}", auth)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    value = answer.get("value") if isinstance(answer, dict) else None
    return value if isinstance(value, str) and value else None


def answers_for(settings: Settings, api_url: str) -> bool:
    """True when the Prefect server at `api_url` is this folder's: it keeps this folder's id."""
    identity = service_id(settings)
    return identity is not None and prefect_identity(api_url, auth_string(settings)) == identity


def give_identity(api_url: str, auth: str | None, identity: str) -> None:
    """Make the Prefect server at `api_url` keep `identity` (the supervisor, once it answers)."""
    path = f"/variables/name/{IDENTITY_VARIABLE}"
    if prefect_identity(api_url, auth) is None:
        body = {"name": IDENTITY_VARIABLE, "value": identity, "tags": ["bid-service"]}
        try:
            _prefect_request(api_url, "/variables/", auth, body, "POST")
            return
        except urllib.error.HTTPError as error:
            if error.code != 409:  # 409: it exists with another value; update it below
                raise
    _prefect_request(api_url, path, auth, {"value": identity}, "PATCH")
