"""`bid notify` and `bid serve`: the Slack commands, registered into the `bid` CLI.

Thin: read the settings, call `notify` / `slack_app`, print one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer

from orchestrator.context import Context
from orchestrator.text import visible


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add the Slack commands to the `bid` app."""

    @app.command()
    def notify(
        as_json: bool = typer.Option(False, "--json", help="Print the delivery report as JSON"),
        retry_all: bool = typer.Option(
            False, "--all", help="Also retry messages that failed too often before"
        ),
    ) -> None:
        """Send pending notifications to Slack (they stay in the outbox without a token)."""
        from orchestrator.slack.notify import (
            OutboxOnlyNotifier,
            SlackNotifier,
            get_notifier,
            slack_client,
        )

        ctx = get_context()
        notifier = get_notifier(ctx)
        if retry_all and isinstance(notifier, SlackNotifier):
            notifier = SlackNotifier(slack_client(ctx.settings), max_attempts=None)
        report = notifier.deliver_pending(ctx)
        if as_json:
            sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
        elif isinstance(notifier, OutboxOnlyNotifier):
            typer.echo(
                f"SLACK_BOT_TOKEN is not set: {report.pending} messages stay in the outbox "
                "(see bid outbox)"
            )
        else:
            typer.echo(
                f"sent {report.sent}, failed {report.failed}, skipped {report.skipped}, "
                f"pending {report.pending}"
            )
            for error in report.errors:
                typer.echo(f"not sent: {visible(error)}", err=True)

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
        port: int = typer.Option(3000, help="Port to listen on"),
    ) -> None:
        """Answer Slack buttons and forms at http://HOST:PORT/slack/events (signed only)."""
        from orchestrator.slack.app import serve as serve_slack

        serve_slack(get_context(), host=host, port=port)
