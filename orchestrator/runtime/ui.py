"""`bid ui`: the Prefect UI over the project's own Prefect data, on 127.0.0.1.

Runs `prefect server start` on `settings.prefect_home` as a child process, holds the home's
lock while it runs (so no temporary server writes the same SQLite file meanwhile), writes
its port down for the other `bid` commands, and on Ctrl-C (or SIGTERM) forwards the signal
to the server and waits for it. Every run the temporary servers recorded in this home shows.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import FrameType
from typing import IO

from rich.console import Console

from orchestrator.config import Settings
from orchestrator.errors import BidError, PrefectUnavailable
from orchestrator.runtime import prefect_env
from orchestrator.runtime.prefect_server import COMMAND as PREFECT_SERVER

SERVER_COMMAND = (*PREFECT_SERVER, "start")
"""`prefect server start`, the server's fixes applied (`orchestrator.runtime.prefect_server`)."""
LOG_FILE = "bid-ui.log"
LOCK_WAIT_S = 60.0
START_TIMEOUT_S = 180.0
STOP_GRACE_S = 20.0


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _exclusive_lock(settings: Settings, console: Console) -> IO[str]:
    """Take the home's lock; wait while a temporary server of another `bid` holds it."""
    handle = prefect_env.lock_path(settings).open("a+", encoding="utf-8")
    deadline = time.monotonic() + LOCK_WAIT_S
    waiting = None
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            url = prefect_env.local_api_url(settings)
            if prefect_env.is_healthy(url):
                handle.close()
                raise BidError(f"bid ui already serves {settings.prefect_home} at {url}") from None
            if time.monotonic() > deadline:
                handle.close()
                raise PrefectUnavailable(
                    f"another process runs Prefect's temporary server over "
                    f"{settings.prefect_home} (a `bid` command or `bid serve-flows`); "
                    "let it finish or stop it, then run `bid ui` again"
                ) from None
            if waiting is None:
                waiting = console.status("waiting for `bid` commands using this Prefect data…")
                waiting.start()
            time.sleep(0.2)
    if waiting is not None:
        waiting.stop()
    return handle


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def serve_ui(settings: Settings, port: int, console: Console) -> int:
    """Serve the UI until Ctrl-C; return the exit code for the `bid` command."""
    home = settings.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    if not _port_free(port):
        raise BidError(f"port {port} on 127.0.0.1 is in use; choose another with --port")
    fresh = not (home / "prefect.db").exists()
    lock = _exclusive_lock(settings, console)
    state = prefect_env.state_path(settings)
    url = f"http://127.0.0.1:{port}"
    os.environ.update(prefect_env.base_environment(settings))
    os.environ.pop("PREFECT_API_URL", None)  # this server is the API; never another one
    log_path = home / LOG_FILE
    stop_requested: list[float] = []
    with log_path.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(
            [*SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(port), "--analytics-off"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def forward(signum: int, _frame: FrameType | None) -> None:
        if not stop_requested:
            stop_requested.append(time.monotonic())
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        state.write_text(
            json.dumps({"pid": os.getpid(), "server_pid": child.pid, "port": port, "url": url}),
            encoding="utf-8",
        )
        message = (
            "starting Prefect (first run sets up its database, ~10 s)…"
            if fresh
            else "starting the Prefect server…"
        )
        with console.status(message):
            deadline = time.monotonic() + START_TIMEOUT_S
            while not prefect_env.is_healthy(f"{url}/api"):
                if child.poll() is not None or stop_requested:
                    break
                if time.monotonic() > deadline:
                    child.terminate()
                    break
                time.sleep(0.2)
        if child.poll() is None and not stop_requested:
            console.print(f"Prefect UI: {url}   (data: {home}; Ctrl-C stops it)")
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stop_requested and time.monotonic() - stop_requested[0] > STOP_GRACE_S:
                    child.kill()
        if stop_requested:
            console.print("Prefect server stopped")
            return 0
        console.print(f"the Prefect server exited with code {code}; its log ({log_path}):")
        console.print(_tail(log_path), markup=False, highlight=False)
        return code or 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
        state.unlink(missing_ok=True)
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()
