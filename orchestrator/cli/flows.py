"""CLI commands around Prefect: `bid server` (`bid ui`), `bid serve-flows`, `bid deadlines`.

Registered by `orchestrator.cli.app`; importing this module imports no Prefect (the commands
that do not run flows must start fast), each command imports what it needs. Every command
takes `--json`; those that serve until stopped log on stderr while they run and print, with
`--json`, what they served when they stop (`bid server status --json` tells while it runs).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer
from rich.console import Console

from orchestrator.cli.output import emit, print_json, table
from orchestrator.context import Context
from orchestrator.errors import BidError, RuntimeUnavailable
from orchestrator.runtime.service import DEFAULT_WEB_PORT

console = Console()
err_console = Console(stderr=True)


JSON_HELP = "Print the result as JSON"
SERVED_HELP = "When stopped, print what was served as JSON"


def _serve(
    host: str,
    port: int | None,
    idle_timeout: float | None,
    serve_flows: bool = True,
    as_json: bool = False,
    web_port: int = DEFAULT_WEB_PORT,
    slack_host: str = "127.0.0.1",
    slack_port: int = 3000,
) -> None:
    from orchestrator.config import get_settings
    from orchestrator.runtime.service import Service

    settings = get_settings()
    service = Service(
        settings,
        host,
        port or settings.ui_port,
        say=lambda line: err_console.print(line, markup=False, highlight=False),
        idle_timeout_s=idle_timeout,
        serve_flows=serve_flows,
        web_port=web_port,
        slack_host=slack_host,
        slack_port=slack_port,
        port_asked=port is not None,
    )
    code = service.run()
    served = {
        "url": service.url,
        "workspace_url": service.workspace_url,
        "cli_url": service.cli_url,
        "logs": str(service.log_dir),
        "flows_served": serve_flows,
        "exit_code": code,
    }
    emit(served, as_json, lambda _: None)  # the service said it all on stderr
    if code:
        raise typer.Exit(code)


def _innermost(error: BaseException) -> str:
    """The first line of the deepest error of a (nested) exception group: Prefect's task
    worker wraps what stopped it (an unreachable server, a refused password) in groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `server`, `ui`, `serve-flows` and `deadlines` to the `bid` command."""

    server_app = typer.Typer(
        help="The local service: Prefect UI and API, served flows, deadline watch, Slack.",
        invoke_without_command=True,
    )
    app.add_typer(server_app, name="server", rich_help_panel="Service")

    @server_app.callback()
    def server(
        ctx: typer.Context,
        host: str = typer.Option(
            "127.0.0.1", help="Interface the Prefect UI and the workspace listen on"
        ),
        port: int | None = typer.Option(None, help="UI/API port (default: BID_UI_PORT, 4200)"),
        web_port: int = typer.Option(
            DEFAULT_WEB_PORT, "--web-port", help="The web workspace's port"
        ),
        slack_host: str = typer.Option(
            "127.0.0.1", "--slack-host", help="Interface Slack's endpoint listens on"
        ),
        slack_port: int = typer.Option(3000, "--slack-port", help="Slack's endpoint's port"),
        idle_timeout: float | None = typer.Option(
            None, "--idle-timeout", help="Stop after this many seconds without a command"
        ),
        no_flows: bool = typer.Option(
            False, "--no-flows", help="Serve no flows here (the workers run elsewhere)"
        ),
        as_json: bool = typer.Option(False, "--json", help=SERVED_HELP),
    ) -> None:
        """Run this folder's service in the foreground until Ctrl-C (or `bid server stop`)."""
        if ctx.invoked_subcommand is not None:
            return
        _serve(host, port, idle_timeout, not no_flows, as_json, web_port, slack_host, slack_port)

    @server_app.command("status")
    def server_status(as_json: bool = typer.Option(False, "--json")) -> None:
        """Exit 0 and print the URL when this folder's service is up; exit 1 when not."""
        from orchestrator.config import get_settings
        from orchestrator.runtime import service

        settings = get_settings()
        info = service.status(settings)
        if info is None:
            foreign = service.foreign_on_default_port(settings)
            if as_json:
                sys.stdout.write(json.dumps({"running": False, "note": foreign}) + "\n")
            else:
                console.print(
                    "no bid server runs for this folder" + (f" ({foreign})" if foreign else ""),
                    markup=False,
                    highlight=False,
                )
            raise typer.Exit(1)
        if as_json:
            sys.stdout.write(json.dumps({"running": True, **service.describe(info)}) + "\n")
            return
        console.print(
            f"bid server is up: {info.url} (pid {info.pid}, logs {info.log_dir}; "
            f"its Prefect and its API answer this folder's id {(info.service_id or '')[:8]}…)",
            markup=False,
            highlight=False,
        )

    @server_app.command("stop")
    def server_stop(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
        """Stop this folder's service (exit 0 also when none was running)."""
        from orchestrator.config import get_settings
        from orchestrator.runtime import service

        pid = service.stop(get_settings())
        emit(
            {"stopped": pid is not None, "pid": pid},
            as_json,
            lambda r: console.print(
                f"bid server (pid {r['pid']}) stopped" if r["pid"] else "no bid server was running"
            ),
        )

    @app.command("ui", rich_help_panel="Service")
    def ui(
        host: str = typer.Option(
            "127.0.0.1", help="Interface the Prefect UI and the workspace listen on"
        ),
        port: int | None = typer.Option(None, help="UI/API port (default: BID_UI_PORT, 4200)"),
        web_port: int = typer.Option(
            DEFAULT_WEB_PORT, "--web-port", help="The web workspace's port"
        ),
        slack_host: str = typer.Option(
            "127.0.0.1", "--slack-host", help="Interface Slack's endpoint listens on"
        ),
        slack_port: int = typer.Option(3000, "--slack-port", help="Slack's endpoint's port"),
        as_json: bool = typer.Option(False, "--json", help=SERVED_HELP),
    ) -> None:
        """Same as `bid server`: the Prefect UI and everything behind it, until Ctrl-C."""
        _serve(host, port, None, as_json=as_json)

    @app.command("serve-flows", rich_help_panel="Service")
    def serve_flows(
        limit: int = typer.Option(4, help="Flow runs at most at once in this worker"),
        as_json: bool = typer.Option(False, "--json", help=SERVED_HELP),
    ) -> None:
        """Start a worker: serve every flow as a deployment (needs `bid ui` or PREFECT_API_URL)."""
        from orchestrator.config import get_settings
        from orchestrator.runtime import prefect_env

        target = prefect_env.configure(get_settings())
        if target.mode == prefect_env.PrefectMode.TEMPORARY:
            raise BidError(
                "bid serve-flows needs a Prefect server: start `bid server` in another "
                "terminal, or set PREFECT_API_URL"
            )
        from prefect import serve

        from flows.deployments import all_deployments

        deployments = all_deployments()
        err_console.print(
            f"serving {len(deployments)} deployments to {target.api_url} (Ctrl-C stops)"
        )
        serve(*deployments, limit=limit, print_starting_message=False)
        served = {
            "api_url": target.api_url,
            "deployments": [deployment.name for deployment in deployments],
            "limit": limit,
            "stopped": True,
        }
        emit(served, as_json, lambda _: None)

    @app.command("task-worker", rich_help_panel="Service")
    def task_worker(
        limit: int = typer.Option(8, help="Bids carried at most at once in this worker"),
        metrics_port: int | None = typer.Option(
            None, "--metrics-port", help="Serve /metrics (Prometheus) on this port, all interfaces"
        ),
        as_json: bool = typer.Option(False, "--json", help=SERVED_HELP),
    ) -> None:
        """A long-lived worker that carries bids on in process (BID_FLOW_DISPATCH=tasks)."""
        from orchestrator import logs
        from orchestrator.config import get_settings
        from orchestrator.runtime import prefect_env

        logs.configure(get_settings())
        if metrics_port is not None:
            from orchestrator.errors import InputError
            from orchestrator.metrics import registry_for, serve_http

            context = get_context()
            try:
                serve_http(registry_for(lambda: context), metrics_port)
            except (OSError, OverflowError) as refused:
                raise InputError(f"--metrics-port {metrics_port}: {refused}") from None
            err_console.print(f"metrics on http://0.0.0.0:{metrics_port}/metrics")
        target = prefect_env.configure(get_settings())
        if target.mode == prefect_env.PrefectMode.TEMPORARY:
            raise BidError(
                "bid task-worker needs a Prefect server: start `bid server` in another "
                "terminal, or set PREFECT_API_URL"
            )
        from prefect.task_worker import serve

        from flows.tasks import carry_bid
        from orchestrator.runtime import prefect_fixes

        prefect_fixes.apply()  # Prefect 3.9 can deadlock a task worker without it
        from flows.context import current
        from orchestrator.runtime.runner import warm_up

        warm_up(current())  # the context, renderer and flows loaded before the first task

        err_console.print(f"task worker for {target.api_url}: carry-bid (Ctrl-C stops)")
        try:
            serve(carry_bid, limit=limit)
        except Exception as stopped:  # Prefect refused the worker or went away: one line
            raise RuntimeUnavailable(
                f"the task worker for {target.api_url} stopped: {_innermost(stopped)}"
            ) from None
        served = {
            "api_url": target.api_url,
            "tasks": ["carry-bid"],
            "limit": limit,
            "stopped": True,
        }
        emit(served, as_json, lambda _: None)

    def _release_holds(ctx: Context, refs: list[str], by: str | None) -> dict[str, str]:
        """The bids named that are on hold, taken off hold (the `resume` command)."""
        from orchestrator.bid.facts import get_opportunity
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import ResumeBid
        from orchestrator.store.db import reading

        released: dict[str, str] = {}
        for ref in refs:
            with reading(ctx.engine) as session:
                opportunity = get_opportunity(session, ref)
                held, canonical = opportunity.held_at is not None, opportunity.ref
            if held:
                result = run(lambda: ctx, command(ResumeBid, opportunity=canonical, by=by))
                released[canonical] = str(result["message"])
        return released

    @app.command("resume", rich_help_panel="Service")
    def resume(
        opportunities: list[str] | None = typer.Argument(
            None, help="Bids to carry on (default: every stalled bid)"
        ),
        older_than: int = typer.Option(
            60, "--older-than", help="Stalled: automated work due and no move for this many s"
        ),
        as_json: bool = typer.Option(False, "--json"),
        by: str | None = typer.Option(
            None, "--by", help="Who resumes a bid on hold (default: you; others: admins)"
        ),
    ) -> None:
        """Take a bid named off hold (bid hold) in the state it was in, and carry on bids
        whose answer was recorded but whose next steps were lost (a worker killed, Prefect
        down for a while): their failed or waiting effects run now, and each bid named is
        handed to the workers (or carried on here)."""
        from datetime import timedelta

        from orchestrator.bid.progress.resume import stalled
        from orchestrator.dispatch import resume as resume_effects
        from orchestrator.runtime.runner import get_runner

        ctx = get_context()
        refs = list(opportunities or [])
        released = _release_holds(ctx, refs, by)
        if not refs:
            refs = stalled(ctx, timedelta(seconds=max(older_than, 0)))
        done = resume_effects(ctx, get_runner(ctx), refs or None)
        for ref, message in released.items():
            done[ref] = f"{message}; {done[ref]}" if ref in done else message
        if as_json:
            sys.stdout.write(json.dumps(done, indent=2) + "\n")
        elif not done:
            console.print("no stalled bids")
        else:
            for ref, message in done.items():
                console.print(f"{ref}: {message}", markup=False, highlight=False)

    @app.command("deadlines", rich_help_panel="Bids")
    def deadlines_command(
        notify: bool = typer.Option(
            False, "--notify", help="Run the deadline-watch flow: queue warnings, publish artifacts"
        ),
        as_json: bool = typer.Option(
            False, "--json", help="The board as JSON; with --notify, {watch, board}"
        ),
    ) -> None:
        """The deadline board: open milestones of open bids, soonest first."""
        from orchestrator.bid.progress import deadlines

        ctx = get_context()
        summary: dict[str, int] | None = None
        if notify:
            from orchestrator.cli.identity import current_person

            by = current_person(ctx).email
            deadlines.check_may_notify(ctx, by)  # before a flow run is handed the watch
            if ctx.settings.flow_runner == "inline":
                report = deadlines.watch(ctx, by=by)
                summary = {"open": len(report.board), "queued": len(report.queued)}
            else:
                from orchestrator.runtime.prefect_runner import PrefectRunner

                summary = PrefectRunner().watch_deadlines(ctx)
            if not as_json:
                err_console.print(
                    f"deadline watch: {summary['open']} open milestones, "
                    f"{summary['queued']} warnings queued"
                )
        rows = [row.table_row() for row in deadlines.board(ctx)]
        if as_json:
            print_json(rows if summary is None else {"watch": summary, "board": rows})
            return
        columns = ("bid", "account", "milestone", "owner", "due", "days left", "status")
        console.print(
            table("Deadlines", columns, [[row[column] for column in columns] for row in rows])
        )
