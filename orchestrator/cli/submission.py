"""CLI commands of the offer going out and of a pause: `bid submit` and `bid hold` (`bid
resume OPP` takes a held bid off hold: `cli/flows.py`, beside the retry of lost effects).

    bid submit OPP --by EMAIL --channel portal|email|hand --reference TEXT [--at DATETIME]
    bid hold OPP --reason TEXT --until DATE
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.cli.output import Result, emit, esc
from orchestrator.context import Context
from orchestrator.errors import InputError

console = Console(highlight=False)
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who does it (default: you; others: admins, recorders)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _print(result: Result) -> None:
    console.print(f"{result['opportunity']}: {esc(result['message'])}")


def _moment(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"'{value}' is not a date and time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)", field=option
        ) from None


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"'{value}' is not a date (YYYY-MM-DD)", field=option) from None


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `submit` and `hold` to the `bid` command."""

    @app.command("submit", rich_help_panel="Governance")
    def submit(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        channel: Annotated[str, typer.Option("--channel", help="portal | email | hand")],
        reference: Annotated[
            str,
            typer.Option("--reference", help="The portal receipt, e-mail subject, courier slip"),
        ],
        at: Annotated[
            str | None,
            typer.Option("--at", help="When it went out (YYYY-MM-DDTHH:MM; default now)"),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record that the offer went to the customer (after the last approval): how, when
        and by whom; the customer's decision clock starts then."""
        from orchestrator.bid.progress.submission import check_channel
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SubmitOffer

        sent = command(
            SubmitOffer,
            opportunity=opportunity,
            channel=check_channel(channel),
            reference=reference,
            at=_moment(at, "at") if at is not None else None,
            by=by,
        )
        emit(run(get_context, sent), as_json, _print)

    @app.command("hold", rich_help_panel="Bids")
    def hold(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        reason: Annotated[str, typer.Option("--reason", help="Why the bid pauses")],
        until: Annotated[str, typer.Option("--until", help="When it is expected back (date)")],
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Put a bid on hold, keeping everything in it (bid resume OPP takes it back); its
        open QRFs are cancelled and each carrier told."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import HoldBid

        sent = command(
            HoldBid, opportunity=opportunity, reason=reason, until=_day(until, "until"), by=by
        )
        emit(run(get_context, sent), as_json, _print)
