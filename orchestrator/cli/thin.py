"""The `bid` entry point: send the command to this folder's `bid server` when it runs.

When a service runs for the folder (`<data dir>/server.json`), a command is sent to it over
HTTP with the caller's credential and runs there, in a warm process: no Python start-up of
the CLI, the database layer or Prefect per command. Otherwise — no service, a service of
another database, or BID_THIN=0 — the command runs in this process as before. This module
imports almost nothing, so a forwarded command costs little more than Python's own start.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request

LOCAL_ONLY = frozenset(
    {"server", "ui", "serve", "serve-flows", "demo", "login", "--help", "-h", "--version"}
)
"""Commands that always run in this process (they start services or need the terminal)."""


def _forward(argv: list[str]) -> int | None:
    """Run `argv` on this folder's service; None when there is none to run it."""
    from orchestrator.config import load_settings
    from orchestrator.runtime import service
    from orchestrator.runtime.credentials import caller_token

    settings = load_settings()
    info = service.read_info(settings)
    if info is None or info.database_url != settings.database_url:
        return None
    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
    body = json.dumps(
        {
            "argv": argv,
            "cwd": os.getcwd(),
            "width": width,
            "database_url": settings.database_url,
        }
    ).encode()
    request = urllib.request.Request(f"{info.cli_url}/cli", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    token = caller_token(settings)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=None) as reply:
            answer = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        if error.code == 409:
            return None
        detail = _error_text(error)
        sys.stderr.write(f"error: the bid service at {info.cli_url} refused: {detail}\n")
        return 2
    except (urllib.error.URLError, OSError):
        return None  # it stopped meanwhile: run the command here
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("code", 1))


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error") or error.reason)
    except (ValueError, OSError):
        return str(error.reason)


def main() -> int:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        from orchestrator import __version__

        sys.stdout.write(f"bid {__version__}\n")
        return 0
    if argv and argv[0] not in LOCAL_ONLY and os.environ.get("BID_THIN", "1") != "0":
        code = _forward(argv)
        if code is not None:
            return code
    from orchestrator.cli.app import main as run_here

    return run_here(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
