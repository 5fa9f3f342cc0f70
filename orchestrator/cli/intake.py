"""CLI doors of the intake's findings: every import's `--problems FILE.csv` and `--json`
findings (`run_import`), and the commands that resolve an exception: `bid design propose`,
`bid quotes accept`, `bid quotes requote`.

A refused file (problems) still exits 2 with one line per problem, the first 20 on screen;
`--problems` writes every one, and `--json` prints them with their counts. An imported file's
exceptions are listed the same way after its result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli.output import esc, print_json
from orchestrator.context import Context
from orchestrator.core.commands import Command
from orchestrator.errors import InputError, InputErrors

ProblemsOption = Annotated[
    Path | None,
    typer.Option(
        "--problems",
        help="Write every finding (problem and exception) to this CSV: "
        "file,row,field,value,kind,rule,message.",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what the import would do; change nothing.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
console = Console()
err_console = Console(stderr=True)
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who does it (default: you; others: admins, recorders)."),
]


def _write_problems(path: Path, findings: list[dict[str, Any]]) -> None:
    """The `--problems` CSV, written with the user's own rights."""
    from orchestrator.intake.findings import Finding, findings_csv

    rows = [
        Finding(
            file=str(f.get("file") or ""),
            row=f.get("row"),
            field=f.get("field"),
            value=str(f.get("value") or ""),
            kind="problem" if f.get("kind") == "problem" else "exception",
            rule=str(f.get("rule") or ""),
            message=str(f.get("message") or ""),
        )
        for f in findings
    ]
    try:
        path.write_text(findings_csv(rows), encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot write the problems file ({exc.strerror or exc})", file=str(path)
        ) from None


def run_import(
    get_context: Callable[[], Context],
    sent: Command,
    typed: Path,
    *,
    as_json: bool,
    problems: Path | None,
    human: Callable[[dict[str, Any], str | None], None],
    extra: dict[str, Any] | None = None,
) -> None:
    """Dispatch an import and report its findings: on screen (the first 20 and a count),
    in `problems` (every one) and with `as_json` (the list and its counts; `extra` added to
    the result). A refused file exits 2 after its problems are written."""
    from orchestrator.cli.commanding import run
    from orchestrator.intake.findings import counts, findings_of

    try:
        result = {**run(get_context, sent, typed=typed), **(extra or {})}
    except InputError as error:
        found = findings_of(error)
        rows = [f.as_json() for f in found]
        if problems is not None:
            _write_problems(problems, rows)
        if as_json:
            print_json(
                {
                    "command": sent.name,
                    "error": str(error).splitlines()[0],
                    "refused": True,
                    "counts": counts(found),
                    "findings": rows,
                }
            )
            raise typer.Exit(2) from None
        if isinstance(error, InputErrors):
            error.hint = (
                f" (all {len(found):,} in {problems})"
                if problems is not None
                else " (every one: --problems FILE.csv)"
            )
        raise
    for finding in result.get("findings") or []:  # named as typed, as a refusal names it
        if finding.get("file") == typed.name:
            finding["file"] = str(typed)
    if problems is not None:
        _write_problems(problems, list(result.get("findings") or []))
    if as_json:
        print_json(result)
        return
    human(result, str(problems) if problems is not None else None)


def _print_result(result: dict[str, Any], problems: str | None) -> None:
    from orchestrator.cli.render import finding_lines, note_lines

    for line in note_lines(result):
        err_console.print(esc(line), soft_wrap=True)
    console.print(esc(str(result.get("message") or "")), soft_wrap=True, highlight=False)
    for line in finding_lines(result, problems):
        console.print(esc(line), soft_wrap=True, highlight=False)


def print_sites_import(result: dict[str, Any], problems: str | None) -> None:
    """`bid sites import`: what was (or would be) imported, and its exceptions."""
    _print_result(result, problems)


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `design propose` and `quotes accept|requote` to the `bid` command."""
    design_app = typer.Typer(
        help="The solution design: answer what the intake flagged.", no_args_is_help=True
    )
    app.add_typer(design_app, name="design", rich_help_panel="Production")
    quotes_app = next((g.typer_instance for g in app.registered_groups if g.name == "quotes"), None)
    if quotes_app is None:  # pragma: no cover - cli.documents registers it first
        quotes_app = typer.Typer(help="Supplier quotes.", no_args_is_help=True)
        app.add_typer(quotes_app, name="quotes")
    design_app.command("propose")(_design_propose_for(get_context))
    quotes_app.command("accept")(_quotes_accept_for(get_context))
    quotes_app.command("requote")(_quotes_requote_for(get_context))


def _design_propose_for(get_context: Callable[[], Context]) -> Callable[..., None]:
    def design_propose(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        site: Annotated[str | None, typer.Option("--site", help="The site id")] = None,
        access: Annotated[
            str | None, typer.Option("--access", help="fiber, copper, wireless, 4g or 5g")
        ] = None,
        bandwidth: Annotated[
            int | None, typer.Option("--bandwidth", help="Mbit/s (default: what was asked)")
        ] = None,
        reason: Annotated[str | None, typer.Option("--reason", help="Why this design")] = None,
        file: Annotated[
            Path | None,
            typer.Option(
                "--file", help="proposals.csv: site_id,access,bandwidth_mbps,reason per row"
            ),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Propose another access (and bandwidth) for a site the intake flagged; the site
        keeps what the customer asked (an "offered alternative")."""
        from orchestrator.cli.commanding import command, run, upload
        from orchestrator.core.commands import ProposeDesign

        sent = command(
            ProposeDesign,
            opportunity=opportunity,
            site=site,
            access=access,
            bandwidth=bandwidth,
            reason=reason,
            file=upload(file) if file is not None else None,
            by=by,
        )
        _show(run(get_context, sent, typed=file), as_json)

    return design_propose


def _quotes_accept_for(get_context: Callable[[], Context]) -> Callable[..., None]:
    def quotes_accept(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        site: Annotated[str, typer.Option("--site", help="The site id")],
        reason: Annotated[str, typer.Option("--reason", help="Why use this price")],
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Use a site's outlier quote as it is: the margin counts it from now on."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import AcceptQuote

        sent = command(AcceptQuote, opportunity=opportunity, site=site, reason=reason, by=by)
        _show(run(get_context, sent), as_json)

    return quotes_accept


def _quotes_requote_for(get_context: Callable[[], Context]) -> Callable[..., None]:
    def quotes_requote(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        site: Annotated[str, typer.Option("--site", help="The site id")],
        reason: Annotated[str | None, typer.Option("--reason", help="Why ask again")] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Drop a site's outlier quote and ask the carrier again (the next bid qrf)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import RequoteSite

        sent = command(RequoteSite, opportunity=opportunity, site=site, reason=reason, by=by)
        _show(run(get_context, sent), as_json)

    return quotes_requote


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    _print_result(result, None)
