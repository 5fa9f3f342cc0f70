"""The `bid` command: a thin door that parses, calls the services and prints.

User mistakes (`BidError`) print one line per problem and exit with code 2; anything else is
a bug and shows its traceback. Commands that run no flow never import Prefect.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.bid.team.people import is_admin
from orchestrator.bid.trail.recording import recorded_by
from orchestrator.cli import output
from orchestrator.cli.commanding import command, upload
from orchestrator.cli.edits import category_list
from orchestrator.cli.identity import current_person
from orchestrator.cli.output import esc
from orchestrator.context import Context
from orchestrator.errors import BidError, NotPermitted
from orchestrator.store.models import Area
from orchestrator.text import one_line, visible
from orchestrator.wiring import open_context

if TYPE_CHECKING:
    from orchestrator.core.commands import Command

app = typer.Typer(
    name="bid",
    help="Carry every customer opportunity from pre-qualification to a signed contract.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
opportunity_app = typer.Typer(help="Create opportunities.", no_args_is_help=True)
sites_app = typer.Typer(help="Import a bid's sites.", no_args_is_help=True)
app.add_typer(opportunity_app, name="opportunity", rich_help_panel="Bids")
app.add_typer(sites_app, name="sites", rich_help_panel="Bids")

console = Console()
err_console = Console(stderr=True)

_CONTEXT: list[Context] = []


def get_context() -> Context:
    """The context of this process, opened (and the database migrated) on first use."""
    if not _CONTEXT:
        _CONTEXT.append(open_context())
    return _CONTEXT[0]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    return output.table(title, columns, rows)


# --- intake ---------------------------------------------------------------------------------


def run_command(command: Command, as_json: bool, typed: Path | None = None) -> None:
    """Dispatch `command` for the person running `bid` and print its result."""
    from orchestrator.cli.commanding import run

    show_result(run(get_context, command, typed), as_json)


def show_result(data: dict[str, Any], as_json: bool) -> None:
    """A command's result: JSON, or its lines (notes and warnings on stderr)."""
    from orchestrator.cli.render import note_lines, result_lines

    if as_json:
        print_json(data)
        return
    for line in note_lines(data):
        err_console.print(esc(line), soft_wrap=True)
    for line in result_lines(data):
        console.print(esc(line), soft_wrap=True)


JSON_HELP = "Print the result as JSON"


@opportunity_app.command("create")
def opportunity_create(
    file: Path = typer.Argument(..., help="Opportunity YAML"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file; create nothing"),
    problems: Path | None = typer.Option(
        None, "--problems", help="Write every finding to this CSV (file,row,field,value,...)"
    ),
) -> None:
    """Create an opportunity from a YAML file and print its id."""
    from orchestrator.cli.intake import run_import
    from orchestrator.core.commands import CreateOpportunity

    def human(result: dict[str, Any], _: str | None) -> None:
        show_result(result, False)

    sent = CreateOpportunity(file=upload(file), dry_run=dry_run)
    run_import(get_context, sent, file, as_json=as_json, problems=problems, human=human)


@sites_app.command("import")
def sites_import(
    opportunity: str,
    file: Path,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what it would do; change nothing"
    ),
    problems: Path | None = typer.Option(
        None, "--problems", help="Write every finding to this CSV (file,row,field,value,...)"
    ),
    sheet: str | None = typer.Option(
        None, "--sheet", help="The .xlsx sheet (default: the first visible one)"
    ),
) -> None:
    """Import a sites .csv or .xlsx: a malformed row refuses the file; a site asking more
    than its access carries is imported as an exception (a design task)."""
    from orchestrator.cli.intake import print_sites_import, run_import
    from orchestrator.core.commands import ImportSites

    sent = command(
        ImportSites, opportunity=opportunity, file=upload(file), dry_run=dry_run, sheet=sheet
    )
    run_import(
        get_context, sent, file, as_json=as_json, problems=problems, human=print_sites_import
    )


# --- reading ---------------------------------------------------------------------------------


@app.command(rich_help_panel="Bids")
def status(opportunity: str, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """State, step owner, next actions and what blocks the next step."""
    from orchestrator.bid.reports.queries import status as bid_status
    from orchestrator.cli.render import status_lines

    data = bid_status(get_context(), opportunity).as_dict()
    if as_json:
        print_json(data)
        return
    for line in status_lines(data):
        console.print(esc(line), soft_wrap=True, highlight=False)


@app.command("list", rich_help_panel="Bids")
def list_command(
    state: str | None = typer.Option(None, help="Only bids in this state"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List bids."""
    from orchestrator.bid.reports.queries import list_bids
    from orchestrator.cli.render import list_lines

    rows = list_bids(get_context(), state)
    if as_json:
        print_json(rows)
        return
    sys.stdout.write("".join(visible(line) + "\n" for line in list_lines(rows, console.width)))


@app.command(rich_help_panel="Bids")
def history(opportunity: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The audit trail: every transition, decision and refusal."""
    from orchestrator.bid.reports.queries import history as bid_history

    rows = bid_history(get_context(), opportunity)
    if as_json:
        print_json(rows)
        return
    console.print(
        _table(
            f"History of {esc(opportunity)}",
            ["at", "v", "actor", "what", "from", "to", "reason"],
            [
                [
                    r["at"][:19],
                    r.get("version") or "",
                    r["actor"],
                    r["trigger"],
                    r["from_state"],
                    r["to_state"],
                    r["reason"],
                ]
                for r in rows
            ],
        )
    )


@app.command(rich_help_panel="Bids")
def explain(opportunity: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Why each gate went the way it did (rule file, version, inputs, matching rows)."""
    from orchestrator.bid.reports.queries import explain as bid_explain

    rows = bid_explain(get_context(), opportunity)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no decisions recorded yet")
    for row in rows:
        console.print(
            f"[bold]{row['gate']}[/] at {row['at'][:19]} — {row['rule_file']}@{row['rule_version']}"
        )
        console.print(f"  inputs:  {esc(json.dumps(row['inputs']))}")
        console.print(f"  outputs: {esc(json.dumps(row['outputs']))}")
        console.print(f"  rows:    {esc(', '.join(row['matched_rows']))}")
        if row["decided_by"]:
            flag = " (overrides the recommendation)" if row["overridden"] else ""
            console.print(
                f"  decided: {esc(row['human_outcome'])} by {esc(row['decided_by'])}{flag}: "
                f"{esc(row['reason'])}"
            )


# --- changing a bid -------------------------------------------------------------------------


BY_HELP = "Record it for this person (e-mail); only an admin or recorder names someone else"


@app.command(rich_help_panel="Bids")
def advance(
    opportunity: str,
    by: str | None = typer.Option(None, help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Do the current step's automated work and move on when its guards allow."""
    from orchestrator.core.commands import Advance

    run_command(command(Advance, opportunity=opportunity, by=by), as_json)


@app.command(rich_help_panel="Bids")
def decide(
    opportunity: str,
    outcome: str = typer.Option(..., help="bid | no_bid | redefine_strategy"),
    by: str | None = typer.Option(None, help=f"The person deciding. {BY_HELP}"),
    reason: str = typer.Option(..., help="Why"),
    category: str | None = typer.Option(
        None, help=f"Reason category, any case (required for no_bid): {category_list()}"
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Record the go/no-go decision beside the rules' recommendation."""
    from orchestrator.core.commands import Decide

    fields = {"opportunity": opportunity, "outcome": outcome, "by": by, "reason": reason}
    run_command(command(Decide, **fields, category=category), as_json)


@app.command(rich_help_panel="Governance")
def approve(
    opportunity: str,
    area: Area = typer.Option(..., help="technical | financial | legal | management"),
    by: str | None = typer.Option(None, help=f"The approver. {BY_HELP}"),
    reject: bool = typer.Option(False, "--reject", help="Reject instead of approve"),
    reason: str | None = typer.Option(None, help="Why (required to reject)"),
    version: str | None = typer.Option(
        None,
        help="Pin the proposal version (hash, or its first 8+ digits) you read; "
        "refused when the bid has moved on",
    ),
    request_id: int | None = typer.Option(
        None, "--request-id", help="The approval request you read (refused once superseded)"
    ),
    fingerprint: str | None = typer.Option(
        None, "--fingerprint", help="The fingerprint of the summary you read"
    ),
    override_duties: str | None = typer.Option(
        None,
        "--override-duties",
        help="Admins: why a rule of rules/duties.yaml is overridden (on the admin trail)",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Grant or reject one governance approval; prints the proposal version it binds to."""
    from orchestrator.core.commands import Approve

    fields = {"opportunity": opportunity, "area": area.value, "by": by, "reject": reject}
    sent = command(
        Approve,
        **fields,
        reason=reason,
        version=version,
        request_id=request_id,
        fingerprint=fingerprint,
        override_duties=override_duties,
    )
    run_command(sent, as_json)


@app.command(rich_help_panel="Bids")
def strategy(
    opportunity: str,
    text: str = typer.Argument(..., help="The (reworked) bid strategy"),
    by: str | None = typer.Option(None, help=f"The author. {BY_HELP}"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Record the bid strategy (needed after 'redefine strategy')."""
    from orchestrator.core.commands import SetStrategy

    run_command(command(SetStrategy, opportunity=opportunity, text=text, by=by), as_json)


@app.command(rich_help_panel="Service")
def outbox(as_json: bool = typer.Option(False, "--json")) -> None:
    """Notifications waiting to be sent (all of them when no Slack token is set)."""
    from orchestrator.bid.reports.queries import outbox_messages
    from orchestrator.cli.render import outbox_lines

    ctx = get_context()
    data = outbox_messages(ctx)
    if as_json:
        print_json(_with_blocks(ctx, data))
        return
    width = console.width if console.is_terminal else 80
    for line in outbox_lines(data, width):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _with_blocks(ctx: Context, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each message with the Block Kit blocks Slack would be sent for it (as `bid notify`
    would build them now, with the bid's current facts)."""
    from sqlmodel import col, select

    from orchestrator.slack.blocks import message_blocks
    from orchestrator.slack.notify import bid_facts
    from orchestrator.store.db import reading
    from orchestrator.store.models import OutboxMessage

    with reading(ctx.engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.id).in_([d["id"] for d in data]))
        ).all()
        stored = {row.id: (row.text, list(row.blocks or []), row.opportunity_id) for row in rows}
    shown = []
    for message in data:
        text, markers, opportunity_id = stored[message["id"]]
        facts = bid_facts(ctx, opportunity_id, markers)
        shown.append({**message, "blocks": message_blocks(text, markers, facts)})
    return shown


@app.command(rich_help_panel="Bids")
def demo(
    out: Path = typer.Option(Path("."), help="Where to put the demo's files"),
    as_json: bool = typer.Option(
        False, "--json", help="Print the demo's story on stderr and its result as JSON"
    ),
    keep_server: bool = typer.Option(
        False,
        "--keep-server",
        help="Run the steps as Prefect flow runs in this folder's service and leave it running",
    ),
) -> None:
    """Create a sample top-account RFP and carry it through all eight steps."""
    from orchestrator.bid.reports.queries import list_bids
    from orchestrator.bid.reports.queries import status as bid_status
    from orchestrator.cli.demo import run_demo
    from orchestrator.runtime.runner import HandOverRunner, get_runner
    from orchestrator.store.db import safe_url

    ctx = get_context()
    runner = get_runner(ctx)
    if keep_server and ctx.settings.flow_runner != "inline":
        from orchestrator.runtime.prefect_runner import PrefectRunner

        runner = PrefectRunner()  # the folder's service, started (and waited for) if need be
    elif isinstance(runner, HandOverRunner):
        runner.start_service = False  # unless kept, the demo leaves no service behind
    caller = current_person(ctx)  # the demo records its team's answers for them
    if not is_admin(caller):
        raise NotPermitted(f"{caller.email} is not an admin; the demo records for its bid team")
    with recorded_by(caller.email):
        ref = run_demo(ctx, out, err_console if as_json else console, runner)
    if as_json:
        print_json(
            {
                "command": "demo",
                "opportunity": ref,
                "state": bid_status(ctx, ref).state,
                "database": safe_url(ctx.settings.database_url),
                "documents": str(ctx.output_dir_for(ref)),
                "bids": list_bids(ctx),
            }
        )


# --- commands contributed by other modules ----------------------------------------------------

Registrar = Callable[[typer.Typer, Callable[[], Context]], None]


def _register_plugins() -> None:
    import importlib

    for module_name in (
        "orchestrator.cli.people",
        "orchestrator.cli.documents",
        "orchestrator.cli.intake",
        "orchestrator.cli.production",
        "orchestrator.cli.edits",
        "orchestrator.cli.rfp",
        "orchestrator.cli.offer",
        "orchestrator.cli.submission",
        "orchestrator.cli.funnel",
        "orchestrator.cli.slack",
        "orchestrator.cli.flows",
        "orchestrator.cli.accounts",
        "orchestrator.cli.packs",
        "orchestrator.cli.web",
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        register: Registrar = module.register
        register(app, get_context)


_register_plugins()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bid` script: one line and exit code 2 for user errors.

    A mistyped command or option, a missing argument: Click's usage line and the error, exit
    2. A `BidError` (bad input, a refused transition): one line per problem, exit 2. Typer
    bundles its own Click (`typer._click`), whose exceptions derive from
    `typer.TyperException`; catching the `click` package's would never match. A fault of the
    machine (full disk, read-only folder, the database gone): one line saying what was
    recorded and what was not (`errors.fault_line`), exit 1. Everything `bid` writes is this
    OS user's only (`credentials.PRIVATE_UMASK`; files made before are tightened).
    """
    import os

    from orchestrator.errors import fault_line
    from orchestrator.runtime.credentials import PRIVATE_UMASK, keep_private

    previous_umask = os.umask(PRIVATE_UMASK)
    try:
        from orchestrator.config import get_settings

        keep_private(get_settings())
    except ValueError:  # unreadable settings: the command itself says so
        pass
    try:
        returned = app(
            args=list(argv) if argv is not None else None, prog_name="bid", standalone_mode=False
        )
        if isinstance(returned, int) and returned:
            return returned  # a command that ended with typer.Exit(code)
        _settle_effects()
    except BidError as error:
        from orchestrator.cli.render import with_hint
        from orchestrator.errors import InputErrors

        lines = error.lines() if isinstance(error, InputErrors) else [str(error)]
        for line in lines:
            _error_line(f"error: {with_hint(line)}")
        return 2
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except typer.Abort:
        _error_line("aborted")
        return 130
    except typer.TyperException as error:  # Click's usage errors, as bundled by typer
        return _usage_error(error)
    except Exception as error:
        fault = fault_line(error)
        if fault is None:
            raise  # a bug: its traceback
        _error_line(f"error: {fault}")
        return 1
    finally:
        os.umask(previous_umask)
    return 0


def _settle_effects() -> None:
    """After a command that wrote: run the effects its moves committed (documents, carrying
    the bid on) and deliver notifications — the pipeline's commands have done so already,
    this catches every other write. A failure is one warning line: the command stands, and
    `bid status` shows the effect until a retry runs it."""
    from orchestrator.store.db import COMMITTED

    if not _CONTEXT or not COMMITTED[0]:
        return
    from orchestrator.dispatch import drain
    from orchestrator.runtime.runner import get_runner

    ctx = _CONTEXT[0]
    for outcome in drain(ctx, get_runner(ctx)).failed:
        _error_line(f"warning: {outcome.ref}: {outcome.kind.value} failed: {outcome.message}")


def _error_line(text: str) -> None:
    """One line on stderr: errors red, warnings yellow on a terminal (plain with NO_COLOR or
    when redirected: rich decides)."""
    style = "red" if text.startswith("error") else "yellow" if text.startswith("warning") else ""
    err_console.print(one_line(text), markup=False, highlight=False, soft_wrap=True, style=style)


def _usage_error(error: typer.TyperException) -> int:
    """Click's usage line and the error, one line each; exit code 2. A group called without
    a subcommand has already shown its help (typer prints it while raising)."""
    code = int(getattr(error, "exit_code", 2) or 2)
    context = getattr(error, "ctx", None)
    message = error.format_message().strip()
    if type(error).__name__ == "NoArgsIsHelpError":  # the help is the answer
        return 2
    if context is not None:
        pieces = " ".join(context.command.collect_usage_pieces(context))
        usage = re.sub(r"\{(\w+)\}", lambda match: match.group(1).upper(), pieces)
        _error_line(f"Usage: {context.command_path} {usage}")
    if message:
        _error_line(f"error: {_plain_choice(message)}")
    return code


def _plain_choice(message: str) -> str:
    """Typer's refusal of a value outside an option's choices, without pydantic's `Value
    error, ` and with the closest choice suggested (`did you mean 'technical'?`)."""
    from orchestrator.text import did_you_mean

    message = message.replace(": Value error, ", ": ")
    refused = re.search(r"'([^']*)' is not one of (.*?)\.?$", message)
    if refused is None:
        return message
    return message.rstrip(".") + did_you_mean(
        refused.group(1), re.findall(r"'([^']*)'", refused.group(2))
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
