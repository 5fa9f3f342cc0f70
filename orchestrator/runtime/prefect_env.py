"""Prefect's environment for this process, decided once and before Prefect is imported.

Prefect reads its settings from the environment when it is imported, so the doors that run
flows (the Prefect runner, `bid ui`, `bid serve-flows`) call `configure(settings)` first.
It picks one of three targets:

    server      PREFECT_API_URL is set: a real Prefect server (always wins)
    local       `bid server` (or `bid ui`) serves the project's Prefect home: run against it;
                when none runs, one is started in the background for the folder (autostart).
                A server counts as the folder's only when it keeps the folder's service id
                (`prefect_home.answers_for`): a Prefect of another folder, or a stranger's on
                the same port, is never used
    temporary   BID_AUTOSTART=0 and nobody serves it: Prefect's temporary server over the
                same home (~6 s start per command)

Never two servers over the same SQLite file: `bid ui` holds an exclusive lock on
`<prefect home>/bid-ui.lock`; a process that starts the temporary server holds a shared
lock on it for its lifetime. Nothing here imports Prefect.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from orchestrator.config import Settings
from orchestrator.errors import PrefectUnavailable
from orchestrator.runtime.prefect_home import UI_LOCK_FILE as UI_LOCK_FILE
from orchestrator.runtime.prefect_home import UI_STATE_FILE as UI_STATE_FILE
from orchestrator.runtime.prefect_home import answers_for as answers_for
from orchestrator.runtime.prefect_home import auth_string as auth_string
from orchestrator.runtime.prefect_home import base_environment as base_environment
from orchestrator.runtime.prefect_home import lock_path as lock_path
from orchestrator.runtime.prefect_home import state_path as state_path

HEALTH_TIMEOUT_S = 0.5
UI_START_WAIT_S = 30.0
"""How long a command waits for a `bid ui` that holds the lock but does not answer yet."""


class PrefectMode(StrEnum):
    SERVER = "server"
    LOCAL = "local"
    TEMPORARY = "temporary"


@dataclass(frozen=True)
class PrefectTarget:
    """Where this process's flow runs go."""

    mode: PrefectMode
    home: Path
    api_url: str | None
    fresh_home: bool
    """True when the Prefect database does not exist yet (the first start migrates, ~10 s)."""

    def describe(self) -> str:
        if self.mode == PrefectMode.TEMPORARY:
            return f"Prefect's temporary server over {self.home}"
        return f"Prefect server at {self.api_url}"


_ACTIVE: list[PrefectTarget] = []
_HELD_LOCKS: list[IO[str]] = []


def local_api_url(settings: Settings) -> str:
    """The API of `bid ui` over this home: the port it wrote down, else the configured port."""
    port = settings.ui_port
    try:
        recorded = json.loads(state_path(settings).read_text(encoding="utf-8"))
        port = int(recorded["port"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return f"http://127.0.0.1:{port}/api"


def is_healthy(api_url: str, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """True when a Prefect server answers its health endpoint."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as reply:
            return int(reply.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _try_shared_lock(settings: Settings) -> IO[str] | None:
    """A shared lock on the home: held while this process may run the temporary server."""
    handle = lock_path(settings).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def resolve(settings: Settings, wait_s: float = UI_START_WAIT_S) -> PrefectTarget:
    """Decide where flow runs go (see the module docstring); takes the shared lock if temporary."""
    home = settings.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    fresh = not (home / "prefect.db").exists()
    if settings.prefect_api_url:
        return PrefectTarget(PrefectMode.SERVER, home, settings.prefect_api_url, fresh)
    url = local_api_url(settings)
    if answers_for(settings, url):
        return PrefectTarget(PrefectMode.LOCAL, home, url, fresh)
    if settings.autostart:
        from orchestrator.runtime import service

        info = service.start_in_background(settings, _say)
        return PrefectTarget(PrefectMode.LOCAL, home, info.prefect_api_url, fresh)
    handle = _try_shared_lock(settings)
    if handle is not None:
        _HELD_LOCKS.append(handle)
        return PrefectTarget(PrefectMode.TEMPORARY, home, None, fresh)
    # `bid ui` holds the home but does not answer yet: it is starting (or stuck).
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        url = local_api_url(settings)
        if answers_for(settings, url):
            return PrefectTarget(PrefectMode.LOCAL, home, url, fresh)
        handle = _try_shared_lock(settings)
        if handle is not None:  # it stopped meanwhile
            _HELD_LOCKS.append(handle)
            return PrefectTarget(PrefectMode.TEMPORARY, home, None, fresh)
        time.sleep(0.2)
    raise PrefectUnavailable(
        f"`bid ui` holds the Prefect data in {home} but its server at {url} does not answer "
        f"after {wait_s:.0f} s; wait until it has started, or stop it with Ctrl-C"
    )


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def configure(settings: Settings) -> PrefectTarget:
    """Set Prefect's environment for this process (once) and return where runs go.

    Call before importing Prefect. A second call returns the first answer: Prefect has read
    its settings by then and cannot be pointed elsewhere.
    """
    if _ACTIVE:
        return _ACTIVE[0]
    target = resolve(settings)
    os.environ.update(base_environment(settings))
    if target.mode == PrefectMode.LOCAL and target.api_url:
        os.environ["PREFECT_API_URL"] = target.api_url
        auth = auth_string(settings)
        if auth:  # the folder's server is behind its password (`bid server` made it)
            os.environ["PREFECT_API_AUTH_STRING"] = auth
    if target.mode == PrefectMode.TEMPORARY:
        os.environ["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
    _ACTIVE.append(target)
    return target


def active() -> PrefectTarget | None:
    """The target chosen by `configure` in this process, if any."""
    return _ACTIVE[0] if _ACTIVE else None
