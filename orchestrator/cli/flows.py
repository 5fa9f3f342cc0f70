"""CLI commands around Prefect: `bid ui`, `bid serve-flows`, `bid deadlines`.

Registered by `orchestrator.cli.app`; importing this module imports no Prefect (the commands
that do not run flows must start fast), each command imports what it needs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer
from rich.console import Console

from orchestrator.cli.output import table
from orchestrator.context import Context
from orchestrator.errors import BidError

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `ui`, `serve-flows` and `deadlines` to the `bid` command."""

    @app.command("ui")
    def ui(
        port: int | None = typer.Option(None, help="Port on 127.0.0.1 (default: BID_UI_PORT)"),
    ) -> None:
        """Serve the Prefect UI over this project's flow runs until Ctrl-C."""
        from orchestrator.config import get_settings
        from orchestrator.runtime.ui import serve_ui

        settings = get_settings()
        code = serve_ui(settings, port or settings.ui_port, err_console)
        if code:
            raise typer.Exit(code)

    @app.command("serve-flows")
    def serve_flows(
        limit: int = typer.Option(4, help="Flow runs at most at once in this worker"),
    ) -> None:
        """Start a worker: serve every flow as a deployment (needs `bid ui` or PREFECT_API_URL)."""
        from orchestrator.config import get_settings
        from orchestrator.runtime import prefect_env

        target = prefect_env.configure(get_settings())
        if target.mode == prefect_env.PrefectMode.TEMPORARY:
            raise BidError(
                "bid serve-flows needs a Prefect server: start `bid ui` in another terminal, "
                "or set PREFECT_API_URL"
            )
        from prefect import serve

        from flows.deployments import all_deployments

        deployments = all_deployments()
        err_console.print(
            f"serving {len(deployments)} deployments to {target.api_url} (Ctrl-C stops)"
        )
        serve(*deployments, limit=limit, print_starting_message=False)

    @app.command("deadlines")
    def deadlines_command(
        notify: bool = typer.Option(
            False, "--notify", help="Run the deadline-watch flow: queue warnings, publish artifacts"
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The deadline board: open milestones of open bids, soonest first."""
        from orchestrator.bid import deadlines

        ctx = get_context()
        if notify:
            if ctx.settings.flow_runner == "inline":
                report = deadlines.watch(ctx)
                summary = {"open": len(report.board), "queued": len(report.queued)}
            else:
                from orchestrator.runtime.prefect_runner import PrefectRunner

                summary = PrefectRunner().watch_deadlines(ctx)
            err_console.print(
                f"deadline watch: {summary['open']} open milestones, "
                f"{summary['queued']} warnings queued"
            )
        rows = [row.table_row() for row in deadlines.board(ctx)]
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        columns = ("bid", "account", "milestone", "owner", "due", "days left", "status")
        console.print(
            table("Deadlines", columns, [[row[column] for column in columns] for row in rows])
        )
