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
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.bid.people import is_admin
from orchestrator.bid.recording import recorded_by
from orchestrator.cli import output
from orchestrator.cli.edits import category_list
from orchestrator.cli.identity import acting, current_person
from orchestrator.cli.output import esc
from orchestrator.context import Context
from orchestrator.errors import BidError, NotPermitted
from orchestrator.store.models import Area
from orchestrator.text import one_line
from orchestrator.wiring import open_context

app = typer.Typer(
    name="bid",
    help="Carry every customer opportunity from pre-qualification to a signed contract.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
opportunity_app = typer.Typer(help="Create opportunities.", no_args_is_help=True)
sites_app = typer.Typer(help="Import a bid's sites.", no_args_is_help=True)
app.add_typer(opportunity_app, name="opportunity")
app.add_typer(sites_app, name="sites")

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


# --- intake -----------------------------------------------------------------------------------


@opportunity_app.command("create")
def opportunity_create(file: Path = typer.Argument(..., help="Opportunity YAML")) -> None:
    """Create an opportunity from a YAML file and print its id."""
    from orchestrator.bid.onboarding import open_opportunity
    from orchestrator.intake.opportunity import parse_opportunity

    ctx = get_context()
    spec = parse_opportunity(file, ctx.clock().date())
    created = open_opportunity(ctx, spec, actor=current_person(ctx).email)
    for note in created.notes:
        err_console.print(f"note: {esc(note)}", soft_wrap=True)
    print(created.ref)


@sites_app.command("import")
def sites_import(opportunity: str, file: Path) -> None:
    """Import a sites CSV (refused whole if any row is wrong)."""
    from rich.progress import Progress

    from orchestrator.bid.onboarding import existing_site_ids, import_sites
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.opportunity import read_sites
    from orchestrator.intake.site_checks import SiteRules

    ctx = get_context()
    actor = current_person(ctx).email
    existing = existing_site_ids(ctx, opportunity)
    try:
        with file.open("rb") as handle:
            total = max(sum(1 for _ in handle) - 1, 0)
    except OSError:
        total = 0
    with Progress(console=err_console, transient=True, disable=total < 500) as progress:
        task = progress.add_task("validating sites", total=total)
        read = read_sites(
            file,
            existing_ids=existing,
            on_row=lambda line: progress.update(task, completed=line - 1),
            rules=SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir)),
            delivery=load_delivery(ctx.settings.rules_dir),
        )
    for warning in read.warnings:
        err_console.print(f"warning: {esc(warning)}", soft_wrap=True)
    count = import_sites(ctx, opportunity, read.sites, actor=actor, warnings=read.warnings)
    console.print(f"imported {count} sites into {esc(opportunity)}")


# --- reading ---------------------------------------------------------------------------------


@app.command()
def status(opportunity: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """State, step owner, next actions and what blocks the next step."""
    from orchestrator.bid.queries import status as bid_status

    result = bid_status(get_context(), opportunity)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"[bold]{result.ref}[/] {esc(result.title)} — {esc(result.account)} ({result.tier})"
    )
    console.print(f"state: [bold]{result.state}[/]   deadline: {result.submission_deadline}")
    console.print(f"step owner: {esc(result.step_owner)}   sites: {result.sites}")
    for action in result.next_actions:
        console.print(f"next: {esc(action)}")
    for criterion in result.exit_criteria:
        mark = "done" if criterion["holds"] else "[red]open[/]"
        console.print(f"{mark}: {esc(criterion['text'])}", highlight=False)
    for block in result.blocked_by:
        console.print(f"[red]blocked[/]: {esc(block)}")
    for area, state in result.approvals.items():
        console.print(f"approval {area}: {state}")
    for milestone in result.next_milestones:
        console.print(
            f"milestone {milestone['name']} due {milestone['due_at'][:16].replace('T', ' ')} UTC"
            f" ({milestone['owner_role']})"
        )


@app.command("list")
def list_command(
    state: str | None = typer.Option(None, help="Only bids in this state"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List bids."""
    from orchestrator.bid.queries import list_bids

    rows = list_bids(get_context(), state)
    if as_json:
        print_json(rows)
        return
    columns = ["id", "state", "deadline", "tier", "account", "title"]
    lines = [
        [r["id"], r["state"], r["submission_deadline"], r["tier"], r["account"], r["title"]]
        for r in rows
    ]
    sys.stdout.write(plain_table(columns, lines, width=console.width))
    sys.stdout.write(f"{len(rows)} bid{'s' if len(rows) != 1 else ''}\n")


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> str:
    """Aligned columns, one line per row, the last column cut to the terminal's width.

    For long lists (a thousand bids): a line per bid reads and greps well, and it is drawn
    in milliseconds where a wrapped table takes a second.
    """
    cells = [[_one_line(value) for value in row] for row in rows]
    widths = [
        min(40, max([len(column), *(len(row[i]) for row in cells)]))
        for i, column in enumerate(columns)
    ]
    out = []
    for row in [list(columns), *cells]:
        parts = [text[: widths[i]].ljust(widths[i]) for i, text in enumerate(row[:-1])]
        line = "  ".join([*parts, row[-1]])
        out.append(line if len(line) <= width else line[: max(width - 1, 0)] + "…")
    return "\n".join(out) + "\n"


def _one_line(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split())


@app.command()
def history(opportunity: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The audit trail: every transition, decision and refusal."""
    from orchestrator.bid.queries import history as bid_history

    rows = bid_history(get_context(), opportunity)
    if as_json:
        print_json(rows)
        return
    console.print(
        _table(
            f"History of {esc(opportunity)}",
            ["at", "actor", "what", "from", "to", "reason"],
            [
                [
                    r["at"][:19],
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


@app.command()
def explain(opportunity: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Why each gate went the way it did (rule file, version, inputs, matching rows)."""
    from orchestrator.bid.queries import explain as bid_explain

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


def _print_step(message: str) -> None:
    """A service's one-line answer; it quotes user text (reasons, titles), so no markup."""
    console.print(esc(message))


def _continue(ctx: Context, ref: str, actor: str) -> None:
    """A person answered: start the next automated run, as the Slack door does."""
    from orchestrator.errors import RuntimeUnavailable
    from orchestrator.runtime.runner import get_runner

    try:
        message = get_runner(ctx).continue_bid(ctx, ref, actor)
    except RuntimeUnavailable as unavailable:  # the answer is recorded; the carrying waits
        err_console.print(f"warning: {unavailable}", markup=False, highlight=False)
        return
    if message:
        console.print(f"continued: {esc(message)}")


BY_HELP = "Record it for this person (e-mail); only an admin or recorder names someone else"


@app.command()
def advance(
    opportunity: str,
    by: str | None = typer.Option(None, help=BY_HELP),
) -> None:
    """Do the current step's automated work and move on when its guards allow."""
    from orchestrator.runtime.runner import get_runner

    ctx = get_context()
    with acting(ctx, by) as actor:
        result = get_runner(ctx).advance_once(ctx, opportunity, actor)
    _print_step(f"{result.ref}: {result.message}")
    if result.waiting_for:
        _print_step(f"waiting for {result.waiting_for}")


@app.command()
def decide(
    opportunity: str,
    outcome: str = typer.Option(..., help="bid | no_bid | redefine_strategy"),
    by: str | None = typer.Option(None, help=f"The person deciding. {BY_HELP}"),
    reason: str = typer.Option(..., help="Why"),
    category: str | None = typer.Option(
        None, help=f"Reason category, any case (required for no_bid): {category_list()}"
    ),
) -> None:
    """Record the go/no-go decision beside the rules' recommendation."""
    from orchestrator.bid.services import decide as decide_bid

    ctx = get_context()
    with acting(ctx, by) as actor:
        result = decide_bid(
            ctx, opportunity, outcome=outcome, by=actor, reason=reason, category=category
        )
        _print_step(f"{result.ref}: {result.message}; now {result.to_state.value}")
        if result.to_state.value == "kick_off":
            _continue(ctx, result.ref, actor)


@app.command()
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
) -> None:
    """Grant or reject one governance approval; prints the proposal version it binds to."""
    from orchestrator.bid.services import approve as approve_bid

    ctx = get_context()
    with acting(ctx, by) as actor:
        result = approve_bid(
            ctx,
            opportunity,
            area=area.value,
            by=actor,
            reject=reject,
            reason=reason,
            proposal_hash=version,
        )
        _print_step(f"{result.ref}: {result.message}; now {result.to_state.value}")
        if not reject and not _approvals_pending(ctx, result.ref):
            _continue(ctx, result.ref, actor)


def _approvals_pending(ctx: Context, ref: str) -> bool:
    """True while other approvals of the round are still requested (nothing to carry on)."""
    from orchestrator.bid.queries import status as bid_status

    return any(state == "requested" for state in bid_status(ctx, ref).approvals.values())


@app.command()
def strategy(
    opportunity: str,
    text: str = typer.Argument(..., help="The (reworked) bid strategy"),
    by: str | None = typer.Option(None, help=f"The author. {BY_HELP}"),
) -> None:
    """Record the bid strategy (needed after 'redefine strategy')."""
    from orchestrator.bid.services import set_strategy

    ctx = get_context()
    with acting(ctx, by) as actor:
        result = set_strategy(ctx, opportunity, text=text, by=actor)
    _print_step(f"{result.ref}: {result.message}")


@app.command()
def outbox(as_json: bool = typer.Option(False, "--json")) -> None:
    """Notifications waiting to be sent (all of them when no Slack token is set)."""
    from orchestrator.bid.queries import outbox_messages

    data = outbox_messages(get_context())
    if as_json:
        print_json(data)
        return
    console.print(
        _table(
            "Outbox",
            ["id", "bid", "event", "to", "sent", "text"],
            [
                [
                    d["id"],
                    d["opportunity"],
                    d["event"],
                    d["recipient"],
                    d["sent_at"] or "pending",
                    d["text"][:80],
                ]
                for d in data
            ],
        )
    )


@app.command()
def demo(
    out: Path = typer.Option(Path("."), help="Where to put the demo's files"),
) -> None:
    """Create a sample top-account RFP and carry it through all eight steps."""
    from orchestrator.cli.demo import run_demo
    from orchestrator.runtime.runner import get_runner

    ctx = get_context()
    runner = get_runner(ctx)
    caller = current_person(ctx)  # the demo records its team's answers for them
    if not is_admin(caller):
        raise NotPermitted(f"{caller.email} is not an admin; the demo records for its bid team")
    with recorded_by(caller.email):
        run_demo(ctx, out, console, runner)


# --- commands contributed by other modules ----------------------------------------------------

Registrar = Callable[[typer.Typer, Callable[[], Context]], None]


def _register_plugins() -> None:
    import importlib

    for module_name in (
        "orchestrator.cli.people",
        "orchestrator.cli.documents",
        "orchestrator.cli.production",
        "orchestrator.cli.edits",
        "orchestrator.cli.rfp",
        "orchestrator.cli.offer",
        "orchestrator.cli.funnel",
        "orchestrator.cli.slack",
        "orchestrator.cli.flows",
        "orchestrator.cli.accounts",
        "orchestrator.cli.packs",
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
        if _CONTEXT and _CONTEXT[0].settings.slack_bot_token:
            from orchestrator.slack.notify import deliver

            deliver(_CONTEXT[0])
    except BidError as error:
        from orchestrator.errors import InputErrors

        lines = error.lines() if isinstance(error, InputErrors) else [str(error)]
        for line in lines:
            _error_line(f"error: {line}")
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


def _error_line(text: str) -> None:
    err_console.print(one_line(text), markup=False, highlight=False, soft_wrap=True)


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
        _error_line(f"error: {message}")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
