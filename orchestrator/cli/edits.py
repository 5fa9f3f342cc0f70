"""CLI commands that correct, extend and re-offer a bid: `sites update|remove|add`,
`opportunity update`, `result` (shortlisted, best-and-final offer, won, lost), `withdraw`,
`tasks`.

Thin: read the files through the intake, call the `bid` services, build the result and print
it (one line per change, or `--json`). A won bid is carried on after the answer; whatever
happens in that automated work, the command never ends in a traceback: the win is recorded
and the bid's trail says where the automation stopped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli.output import (
    Result,
    emit,
    esc,
    print_json,
    print_warnings,
    table,
)
from orchestrator.context import Context
from orchestrator.errors import BidError, InputError

console = Console(highlight=False)

OppArg = Annotated[str, typer.Argument(help="OPP-0007 or 7")]
FileArg = Annotated[Path, typer.Argument(help="Sites CSV (site_id and the columns to change)")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who records it (default: you; others: admins, recorders)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text")]


@lru_cache(maxsize=1)
def category_list() -> str:
    """The controlled reason categories (rules/funnel.yaml), for `--help`."""
    from orchestrator.config import get_settings
    from orchestrator.decisions.funnel_rules import reason_categories

    try:
        return ", ".join(reason_categories(get_settings().rules_dir))
    except (BidError, OSError):
        return "see reason_categories in rules/funnel.yaml"


def _print(message: str) -> None:
    console.print(esc(message))


def print_change(result: Result) -> None:
    """A change for people: its warnings (stderr), its line, then what carrying on did."""
    print_warnings(result)
    _print(f"{result['opportunity']}: {result['message']}")
    _print_carried(result)


def print_answer(result: Result) -> None:
    """A customer's answer or a withdrawal for people: the line names the state it led to."""
    print_warnings(result)
    _print(f"{result['opportunity']}: {result['message']}; now {result['state']}")
    _print_carried(result)


def _print_carried(result: Result) -> None:
    carried = result.get("carried_on")
    if carried and carried["waiting"]:
        _print(f"{result['opportunity']}: {carried['waiting']}")
    elif carried and carried["continued"]:
        _print(f"continued: {carried['continued']}")


def plain_date(value: str | datetime) -> datetime:
    """A day written `YYYY-MM-DD`; anything else (an impossible day too) is refused in plain
    words with an example, never with Python's `'%Y-%m-%d'`."""
    if isinstance(value, datetime):
        return value
    text = value.strip()
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        example = (date.today() + timedelta(days=30)).isoformat()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise typer.BadParameter(
                f"'{text}' is not a day of the calendar; write the date as YYYY-MM-DD, "
                f"e.g. {example}"
            ) from None
        raise typer.BadParameter(
            f"'{text}' is not a date written YYYY-MM-DD (year-month-day), e.g. {example}"
        ) from None


def date_option(name: str, help_text: str) -> Any:
    """A `YYYY-MM-DD` option: anything else (an impossible date too) is one line, exit 2."""
    return typer.Option(name, parser=plain_date, metavar="YYYY-MM-DD", help=help_text)


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add the edit commands to `bid`, `bid sites` and `bid opportunity`."""
    groups = {
        group.name: group.typer_instance
        for group in app.registered_groups
        if group.typer_instance is not None
    }
    sites_app, opportunity_app = groups["sites"], groups["opportunity"]

    def _sites(
        kind: type[Any],
        ref: str,
        file: Path,
        by: str | None,
        as_json: bool,
        **extra: Any,
    ) -> None:
        from orchestrator.cli.commanding import command, run, upload

        sent = command(kind, opportunity=ref, file=upload(file), by=by, **extra)
        answer = run(get_context, sent, typed=file)
        answer["file"] = str(file)  # the file as the user named it
        emit(answer, as_json, print_change)

    @sites_app.command("update")
    def sites_update(
        opportunity: OppArg,
        file: FileArg,
        by: ByOption = None,
        reason: Annotated[
            str | None,
            typer.Option("--reason", help="Why the design differs from what the customer asked"),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change sites by site id: each row a site id and the corrected columns (an empty
        cell keeps the value). Checked like an import; what it does in the bid's phase comes
        from rules/changes.yaml. A changed access, bandwidth, service or service level keeps
        what the customer asked beside it, with --reason."""
        from orchestrator.core.commands import UpdateSites

        _sites(UpdateSites, opportunity, file, by, as_json, reason=reason)

    @sites_app.command("remove")
    def sites_remove(
        opportunity: OppArg, file: FileArg, by: ByOption = None, as_json: JsonOption = False
    ) -> None:
        """Remove the sites a CSV names (column site_id) from the bid."""
        from orchestrator.core.commands import RemoveSites

        _sites(RemoveSites, opportunity, file, by, as_json)

    @sites_app.command("add")
    def sites_add(
        opportunity: OppArg, file: FileArg, by: ByOption = None, as_json: JsonOption = False
    ) -> None:
        """Add the sites of a CSV (the columns of bid sites import) to the bid."""
        from orchestrator.core.commands import AddSites

        _sites(AddSites, opportunity, file, by, as_json)

    @opportunity_app.command("update")
    def opportunity_update(
        opportunity: OppArg,
        reason: Annotated[str, typer.Option("--reason", help="What the customer changed, why")],
        deadline: Annotated[
            datetime | None,
            date_option(
                "--deadline",
                "The new submission deadline (the Bid Control Plan moves)",
            ),
        ] = None,
        contract_months: Annotated[
            int | None, typer.Option("--contract-months", help="The contract term in months")
        ] = None,
        currency: Annotated[
            str | None, typer.Option("--currency", help="The bid's currency (rules/fx_rates.yaml)")
        ] = None,
        addendum: Annotated[
            Path | None, typer.Option("--addendum", help="An RFP addendum to keep with the bid")
        ] = None,
        incumbent: Annotated[
            bool | None,
            typer.Option(
                "--incumbent/--challenger",
                help="We hold the contract today (incumbent) or take it over (challenger)",
            ),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record what the customer changed: deadline, contract term, currency, an addendum,
        whether we hold the contract today."""
        from orchestrator.cli.commanding import command, run, upload
        from orchestrator.core.commands import UpdateOpportunity

        sent = command(
            UpdateOpportunity,
            opportunity=opportunity,
            reason=reason,
            by=by,
            deadline=deadline.date() if deadline else None,
            contract_months=contract_months,
            currency=currency,
            addendum=upload(addendum) if addendum else None,
            incumbent=incumbent,
        )
        answer = run(get_context, sent, typed=addendum)
        if addendum is not None:
            answer["changes"]["addendum"] = str(addendum)  # the file as the user named it
        emit(answer, as_json, print_change)

    @app.command("result", rich_help_panel="Bids")
    def result(
        opportunity: OppArg,
        shortlisted: Annotated[
            bool, typer.Option("--shortlisted", help="The customer shortlisted the bid")
        ] = False,
        bafo: Annotated[
            bool,
            typer.Option(
                "--bafo", help="The customer asks for a best-and-final offer (needs --reason)"
            ),
        ] = False,
        won: Annotated[bool, typer.Option("--won", help="The customer accepted")] = False,
        lost: Annotated[bool, typer.Option("--lost", help="The RFP is lost")] = False,
        reason: Annotated[
            str | None,
            typer.Option(
                "--reason", help="The customer's reasons (required but with --shortlisted)"
            ),
        ] = None,
        category: Annotated[
            str | None,
            typer.Option(
                "--category",
                help=f"Reason category, any case (required with --lost): {category_list()}",
            ),
        ] = None,
        competitor: Annotated[
            str | None, typer.Option("--competitor", help="Who won instead (with --lost)")
        ] = None,
        price_gap: Annotated[
            float | None,
            typer.Option(
                "--price-gap",
                help="How far our price was above the winner's, in percent (with --lost)",
            ),
        ] = None,
        deadline: Annotated[
            datetime | None,
            date_option(
                "--deadline",
                "When the best-and-final offer is due (with --bafo)",
            ),
        ] = None,
        competitor_contract_end: Annotated[
            datetime | None,
            date_option(
                "--competitor-contract-end",
                "When the winner's contract ends (with --lost --competitor): the account "
                "wakes in time to bid again",
            ),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record the customer's decision as it happens: shortlisted, a best-and-final offer
        asked, won, or lost."""

        chosen = [flag for flag, on in _flags(shortlisted, bafo, won, lost) if on]
        if len(chosen) != 1:
            raise InputError(
                "give exactly one of --shortlisted, --bafo, --won or --lost", field="result"
            )
        outcome = chosen[0]
        if outcome != "--shortlisted" and not (reason and reason.strip()):
            raise InputError(f"{outcome} needs --reason", field="reason")
        if outcome != "--lost" and (
            competitor or price_gap is not None or competitor_contract_end is not None
        ):
            raise InputError(
                "--competitor, --competitor-contract-end and --price-gap go with --lost",
                field="result",
            )
        if outcome != "--bafo" and deadline is not None:
            raise InputError("--deadline goes with --bafo", field="deadline")
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import RecordResult

        sent = command(
            RecordResult,
            opportunity=opportunity,
            outcome=outcome.removeprefix("--"),
            reason=reason,
            category=category,
            competitor=competitor,
            price_gap=price_gap,
            deadline=deadline.date() if deadline else None,
            competitor_contract_end=(
                competitor_contract_end.date() if competitor_contract_end else None
            ),
            by=by,
        )
        emit(run(get_context, sent), as_json, print_answer)

    @app.command("withdraw", rich_help_panel="Bids")
    def withdraw(
        opportunity: OppArg,
        reason: Annotated[str, typer.Option("--reason", help="Why the bid is withdrawn")],
        category: Annotated[
            str, typer.Option("--category", help=f"Reason category, any case: {category_list()}")
        ],
        wake_up: Annotated[
            datetime | None,
            date_option(
                "--wake-up",
                "The day the account wakes up (required with --category postponed)",
            ),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Withdraw a bid from any open step; approval requests are cancelled (approvers
        told), milestones closed. Postponed: the account sleeps until --wake-up."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import Withdraw

        sent = command(
            Withdraw,
            opportunity=opportunity,
            reason=reason,
            category=category,
            wake_up=wake_up.date() if wake_up else None,
            by=by,
        )
        emit(run(get_context, sent), as_json, print_answer)

    @app.command("tasks", rich_help_panel="Bids")
    def tasks(
        opportunity: OppArg,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """What the bid waits for people to fix (the order sheet's problems after a win)."""
        from orchestrator.bid.trail.tasks import open_task_rows

        rows = open_task_rows(get_context(), opportunity)
        if as_json:
            print_json(rows)
            return
        if not rows:
            _print(f"{opportunity}: nothing to fix")
            return
        console.print(
            table(
                f"Open tasks of {esc(opportunity)}",
                ["#", "for", "since", "task"],
                [[r["id"], r["owner_role"], r["created_at"][:16], r["text"]] for r in rows],
            )
        )


def _flags(shortlisted: bool, bafo: bool, won: bool, lost: bool) -> list[tuple[str, bool]]:
    return [("--shortlisted", shortlisted), ("--bafo", bafo), ("--won", won), ("--lost", lost)]
