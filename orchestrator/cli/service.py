"""The CLI service: `bid` commands sent by the thin client run here, in one warm process.

`bid server` starts this as its `api` child. It listens on 127.0.0.1 and answers

    GET  /health   200 when up
    POST /cli      {"argv": [...], "cwd": "...", "width": 100, "database_url": "..."}
                   with `Authorization: Bearer <token>` (the caller's credential)
                   → {"code": 0, "stdout": "...", "stderr": "..."}

A command runs exactly as `bid ARGV` would in the caller's folder: the same Typer app, the
same service functions, automated steps as Prefect flow runs (this process has Prefect
loaded and talks to the service's Prefect server). Commands run one at a time. A caller
without a valid credential gets 401 and nothing runs; a caller whose database is not this
service's gets 409 (the thin client then runs the command itself).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from orchestrator.config import get_settings
from orchestrator.runtime import service

MAX_REQUEST_BYTES = 1_000_000


def authenticate(token: str | None) -> None:
    """Check the caller's credential (raises `NotAuthenticated`), the one check of the bid
    layer: an unknown, revoked or missing token runs nothing."""
    from orchestrator.bid.people import authenticate as check
    from orchestrator.cli import app as cli_app
    from orchestrator.errors import NotAuthenticated

    if not token:
        raise NotAuthenticated("no credential: run `bid login` (or use the folder's admin token)")
    check(cli_app.get_context(), token)


class CliRunner:
    """Runs forwarded commands one at a time in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def warm_up(self) -> None:
        """Import what commands need, open the database, ready Prefect for flow runs."""
        from orchestrator.cli import app as cli_app

        ctx = cli_app.get_context()
        from orchestrator.cli.identity import current_person

        current_person(ctx)  # a new folder gets its admin (the token `bid server` wrote)
        from orchestrator.runtime import prefect_env

        prefect_env.configure(get_settings())
        import flows.steps  # noqa: F401  (Prefect and the step flows, loaded once)

    def run(self, argv: list[str], cwd: str, width: int, token: str) -> dict[str, Any]:
        from orchestrator.cli import app as cli_app
        from orchestrator.cli.identity import presented

        out, err = io.StringIO(), io.StringIO()
        with self.lock:
            started = time.perf_counter()
            consoles = _consoles()
            widths = {id(c): c._width for c in consoles}
            for console in consoles:
                console.width = width
            previous = os.getcwd()
            try:
                os.chdir(cwd)
                with (
                    presented(token),
                    contextlib.redirect_stdout(out),
                    contextlib.redirect_stderr(err),
                ):
                    try:
                        code = cli_app.main(argv)
                    except SystemExit as exit_:
                        code = exit_.code if isinstance(exit_.code, int) else 1
            finally:
                os.chdir(previous)
                for console in consoles:
                    console._width = widths[id(console)]
            elapsed = time.perf_counter() - started
        service.activity_path(get_settings()).touch()
        sys.stderr.write(
            f"{time.strftime('%H:%M:%S')} bid {argv[0]}: exit {code} in {elapsed:.3f} s\n"
        )
        sys.stderr.flush()
        return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _consoles() -> list[Any]:
    """Every Rich console of the CLI modules (they print to sys.stdout/stderr at call time)."""
    from rich.console import Console

    found: list[Any] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("orchestrator.cli") and module is not None:
            found.extend(v for v in vars(module).values() if isinstance(v, Console))
    return found


def make_handler(runner: CliRunner) -> type[BaseHTTPRequestHandler]:
    settings = get_settings()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/cli":
                self._reply(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_REQUEST_BYTES:
                self._reply(400, {"error": "a JSON body of at most 1 MB is required"})
                return
            try:
                body = json.loads(self.rfile.read(length))
                argv = [str(a) for a in body["argv"]]
                cwd = str(body["cwd"])
                width = max(40, min(400, int(body.get("width") or 80)))
                database_url = str(body.get("database_url") or "")
            except (ValueError, KeyError, TypeError):
                self._reply(400, {"error": "expected argv, cwd, width and database_url"})
                return
            header = self.headers.get("Authorization") or ""
            token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            from orchestrator.errors import NotAuthenticated

            try:
                authenticate(token)
            except NotAuthenticated as refusal:
                self._reply(401, {"error": str(refusal)})
                return
            if database_url != settings.database_url:
                self._reply(409, {"error": "this bid service serves another database"})
                return
            self._reply(200, runner.run(argv, cwd, width, token))

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    runner = CliRunner()
    runner.warm_up()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), make_handler(runner))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
