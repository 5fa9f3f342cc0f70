"""CLI commands of the meeting packs: `pack weekly-top-accounts` and `pack qualification`.

Each reads the pack in a read-only session (`funnel.packs`), writes its HTML page, PDF and
figures (`funnel.pack_pages`), then queues the short summary for Slack (`bid.packs`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orchestrator.cli.output import Result, emit, esc
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.store.db import reading

if TYPE_CHECKING:
    from orchestrator.funnel.pack_pages import PackFiles

OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Output folder (default: <output dir>/packs)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NoPdfOption = Annotated[bool, typer.Option("--no-pdf", help="Write the HTML page only.")]
console = Console(highlight=False)


def output_folder(out: Path) -> Path:
    """The folder the pack goes into, created when missing; a file there is refused."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a folder", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{out}: cannot create the folder ({error.strerror})", field="out"
        ) from None
    return out


def _report(files: PackFiles, recipients: list[str], as_json: bool) -> None:
    result = {
        "kind": files.kind,
        "period": files.period,
        "html": str(files.html),
        "pdf": str(files.pdf) if files.pdf else None,
        "figures": str(files.figures),
        "summary": files.summary,
        "slack": recipients,
    }
    emit(result, as_json, _print_pack)


def _print_pack(result: Result) -> None:
    console.print(f"[bold]{result['kind']}[/] {result['period']}: {esc(result['summary'])}")
    console.print(f"   page:    {esc(result['html'])}")
    if result["pdf"] is not None:
        console.print(f"   PDF:     {esc(result['pdf'])}")
    else:
        console.print("   PDF:     not written (no Chromium here: apt-get install chromium)")
    console.print(f"   figures: {esc(result['figures'])}")
    told = ", ".join(esc(r) for r in result["slack"]) or "nobody (no attendee on these bids)"
    console.print(f"   Slack:   summary queued for {told} (bid outbox)")


def make_weekly(ctx: Context, out: Path, *, pdf: bool = True) -> tuple[PackFiles, list[str]]:
    """The weekly top-account pack written into `out`, its summary queued; who is told."""
    from orchestrator.bid.reports.packs import post_pack_summary
    from orchestrator.funnel.pack_pages import write_weekly
    from orchestrator.funnel.packs import weekly_top_accounts

    with reading(ctx.engine) as session:
        pack = weekly_top_accounts(session, ctx.settings.rules_dir, ctx.clock())
    files = write_weekly(pack, ctx.settings.templates_dir, out, pdf=pdf)
    told = post_pack_summary(
        ctx,
        kind="weekly_top_accounts",
        period=pack.week,
        title="Weekly top-account update",
        summary=files.summary,
        location=str(files.pdf or files.html),
        opportunity_ids=pack.opportunity_ids,
    )
    return files, told


def make_qualification(ctx: Context, out: Path, *, pdf: bool = True) -> tuple[PackFiles, list[str]]:
    """The qualification meeting's pack written into `out`, its summary queued."""
    from orchestrator.bid.reports.packs import post_pack_summary
    from orchestrator.funnel.pack_pages import write_qualification
    from orchestrator.funnel.packs import qualification_pack

    with reading(ctx.engine) as session:
        pack = qualification_pack(session, ctx.settings.rules_dir, ctx.clock())
    files = write_qualification(pack, ctx.settings.templates_dir, out, pdf=pdf)
    told = post_pack_summary(
        ctx,
        kind="qualification",
        period=files.period,
        title="Qualification meeting",
        summary=files.summary,
        location=str(files.pdf or files.html),
        opportunity_ids=pack.opportunity_ids,
    )
    return files, told


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `pack weekly-top-accounts` and `pack qualification` to the `bid` command."""
    pack_app = typer.Typer(
        help="Meeting packs: HTML, PDF and a Slack summary.", no_args_is_help=True
    )
    app.add_typer(pack_app, name="pack", rich_help_panel="Documents")

    @pack_app.command("weekly-top-accounts")
    def weekly(
        out: OutOption = None, no_pdf: NoPdfOption = False, as_json: JsonOption = False
    ) -> None:
        """The weekly update per top account: open bids and their step, milestones due in the
        next two weeks, overdue items, approvals pending, order-sheet problems, MACDs and
        changes since last week."""
        ctx = get_context()
        folder = output_folder(out or ctx.settings.output_dir / "packs")
        files, told = make_weekly(ctx, folder, pdf=not no_pdf)
        _report(files, told, as_json)

    @pack_app.command("qualification")
    def qualification(
        out: OutOption = None, no_pdf: NoPdfOption = False, as_json: JsonOption = False
    ) -> None:
        """The qualification meeting: leads and prospects awaiting a decision with BANTS and
        the rules' recommendation, bid-manager capacity, accounts asleep that wake this month."""
        ctx = get_context()
        folder = output_folder(out or ctx.settings.output_dir / "packs")
        files, told = make_qualification(ctx, folder, pdf=not no_pdf)
        _report(files, told, as_json)
