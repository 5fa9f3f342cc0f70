"""`bid notify` and `bid serve`: the Slack commands, registered into the `bid` CLI.

Thin: read the settings, call `notify` / `slack_app`, print the result (a line, or `--json`).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from orchestrator.cli.output import Result, emit
from orchestrator.context import Context
from orchestrator.text import visible


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add the Slack commands to the `bid` app."""

    @app.command(rich_help_panel="Service")
    def notify(
        as_json: bool = typer.Option(False, "--json", help="Print the delivery report as JSON"),
        retry_all: bool = typer.Option(
            False, "--all", help="Also retry messages that failed too often before"
        ),
    ) -> None:
        """Send pending notifications to Slack (they stay in the outbox without a token)."""
        from orchestrator.slack.notify import SlackNotifier, get_notifier, slack_client

        ctx = get_context()
        notifier = get_notifier(ctx)
        if retry_all and isinstance(notifier, SlackNotifier):
            notifier = SlackNotifier(slack_client(ctx.settings), max_attempts=None)
        report = notifier.deliver_pending(ctx)
        emit(report.as_dict(), as_json, _print_delivery)

    @app.command(rich_help_panel="Service")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
        port: int = typer.Option(3000, help="Port to listen on"),
        as_json: bool = typer.Option(
            False, "--json", help="When stopped, print what was served as JSON"
        ),
    ) -> None:
        """Answer Slack buttons and forms at http://HOST:PORT/slack/events (signed only)."""
        from orchestrator.doors.slack import serve as serve_slack

        serve_slack(get_context(), host=host, port=port)
        emit(
            {"url": f"http://{host}:{port}/slack/events", "stopped": True},
            as_json,
            lambda _: None,  # uvicorn has said it all on stderr
        )


def _print_delivery(result: Result) -> None:
    if result["mode"] == "outbox":
        typer.echo(
            f"SLACK_BOT_TOKEN is not set: {result['pending']} messages stay in the outbox "
            "(see bid outbox)"
        )
        return
    typer.echo(
        f"sent {result['sent']}, failed {result['failed']}, skipped {result['skipped']}, "
        f"pending {result['pending']}"
    )
    for error in result["errors"]:
        typer.echo(f"not sent: {visible(error)}", err=True)
