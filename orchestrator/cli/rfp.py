"""CLI commands for the customer's questionnaire and the answer library: `bid rfp ...`.

    bid rfp import OPP FILE [--sheet NAME] [--column FIELD=HEADER]   requirements from .xlsx/.csv
    bid rfp status OPP [--json] [--all]                               coverage per section
    bid rfp suggest OPP [--top N] [--accept [SCORE]] [--json]         library answers with scores
    bid rfp answer OPP REQ --library ID [--edit | --text TEXT] | --text TEXT | --clear
                   [--compliance C]
    bid rfp assign OPP REQ --to EMAIL                                 who answers it
    bid rfp review OPP REQ [--by EMAIL] [--reject --reason TEXT] [--save-to-library]
    bid rfp export OPP --out FILE.xlsx                                the customer's file, answered
    bid rfp library import FILE | export FILE | list [--tag T] [--review-due]

Every command takes `--json`. Thin: parse, call the `bid` services, build one result and print
it for people or as JSON. User text is printed literally (`output.esc`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli.intake import DryRunOption, ProblemsOption
from orchestrator.cli.output import Result, emit, esc, print_json, table
from orchestrator.context import Context

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who does it (default: you; others: admins, recorders)."),
]
console = Console(highlight=False)


def _columns(values: list[str] | None) -> dict[str, str]:
    from orchestrator.errors import InputError

    columns: dict[str, str] = {}
    for text in values or []:
        name, sep, header = text.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise InputError(
                f"'{text}' is not FIELD=HEADER (e.g. text=Requirement)", field="column"
            )
        columns[name.strip().lower()] = header.strip()
    return columns


def _short(text: str, width: int = 70) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `rfp` (import, status, suggest, answer, export, library) to the `bid` command."""
    rfp_app = typer.Typer(
        help="The customer's questionnaire: import, answer, coverage, export.",
        no_args_is_help=True,
    )
    library_app = typer.Typer(
        help="The answer library: approved answers bids reuse.", no_args_is_help=True
    )
    app.add_typer(rfp_app, name="rfp", rich_help_panel="Production")
    rfp_app.add_typer(library_app, name="library")

    @rfp_app.command("import")
    def rfp_import(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        file: Annotated[Path, typer.Argument(help="The customer's questionnaire (.xlsx or .csv)")],
        sheet: Annotated[
            str | None,
            typer.Option("--sheet", help="The worksheet (default: the first with a header row)"),
        ] = None,
        column: Annotated[
            list[str] | None,
            typer.Option(
                "--column",
                help="FIELD=HEADER (or a column letter) for id, section, text, mandatory, "
                "answer, compliance; repeatable",
            ),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
        dry_run: DryRunOption = False,
        problems: ProblemsOption = None,
    ) -> None:
        """Import the requirements of the customer's questionnaire (all rows or none)."""
        from orchestrator.cli.commanding import command, upload
        from orchestrator.cli.intake import run_import
        from orchestrator.core.commands import ImportRfp

        sent = command(
            ImportRfp,
            opportunity=opportunity,
            file=upload(file),
            sheet=sheet,
            columns=_columns(column),
            dry_run=dry_run,
            by=by,
        )
        run_import(
            get_context,
            sent,
            file,
            as_json=as_json,
            problems=problems,
            human=lambda result, _: (
                console.print(esc(result["message"])) if dry_run else _print_import(result)
            ),
        )

    @rfp_app.command("status")
    def rfp_status(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        every: Annotated[bool, typer.Option("--all", help="List every requirement.")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Coverage of the questionnaire: answered, mandatory open, compliance, per section."""
        from orchestrator.bid.answers.rfp import rfp_status as read_status

        status = read_status(get_context(), opportunity)
        if as_json:
            print_json(status.to_json())
            return
        if not status.total:
            console.print(f"{status.ref}: no questionnaire imported (bid rfp import)")
            return
        console.print(
            f"{status.ref}: {esc(status.file_name)} — {status.answered} of {status.total} "
            f"answered; mandatory open {len(status.mandatory_open)} of {status.mandatory}; "
            + ", ".join(f"{k} {v}" for k, v in status.compliance.items())
            + (f"; due {status.due} ({status.milestone})" if status.due else "")
        )
        console.print(
            "   states: "
            + ", ".join(f"{k} {v}" for k, v in status.states.items())
            + f"; compliance to review {status.compliance_to_review}; mandatory not reviewed "
            f"{len(status.mandatory_unreviewed)}"
        )
        console.print(
            table(
                "Per section",
                ("Section", "Owner", "Answered", "Mandatory open", "Compliance"),
                [
                    (
                        s.section,
                        s.owner_role,
                        f"{s.answered}/{s.total}",
                        s.mandatory_open,
                        ", ".join(f"{k} {v}" for k, v in sorted(s.compliance.items())),
                    )
                    for s in status.sections
                ],
            )
        )
        if status.mandatory_open:
            shown = ", ".join(status.mandatory_open[:20])
            more = (
                f" and {len(status.mandatory_open) - 20} more"
                if len(status.mandatory_open) > 20
                else ""
            )
            console.print(f"[red]mandatory, unanswered[/]: {esc(shown)}{more}")
        if every:
            console.print(
                table(
                    "Requirements",
                    ("Id", "M", "State", "Compliance", "Owner", "Requirement", "Answer"),
                    [
                        (
                            r["id"],
                            "M" if r["mandatory"] else "",
                            r["state"],
                            r["compliance"] or "",
                            r["owner"] or r["owner_role"],
                            _short(r["text"], 40),
                            _short(r["answer"] or r["draft"] or "", 40),
                        )
                        for r in status.requirements
                    ],
                )
            )

    @rfp_app.command("suggest")
    def rfp_suggest(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        score: Annotated[
            float | None,
            typer.Argument(
                help="With --accept: the score from which to accept (default: the "
                "calibrated threshold of rules/rfp.yaml)",
                min=0,
                max=100,
                show_default=False,
            ),
        ] = None,
        top: Annotated[
            int | None, typer.Option("--top", min=1, max=20, help="Answers per requirement")
        ] = None,
        accept: Annotated[
            bool,
            typer.Option(
                "--accept",
                help="Record the best answer of every unanswered requirement the matcher is "
                "sure of (--accept SCORE: from that score); the others become drafts",
            ),
        ] = False,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Propose the best library answers per unanswered requirement, with their
        calibrated scores and full texts; --accept records the sure ones."""
        from orchestrator.bid.answers.rfp import suggestions
        from orchestrator.errors import InputError

        if score is not None and not accept:
            raise InputError("a score goes with --accept (bid rfp suggest OPP --accept 70)")
        if accept:
            from orchestrator.cli.commanding import command, run
            from orchestrator.core.commands import AcceptSuggestions

            sent = command(AcceptSuggestions, opportunity=opportunity, min_score=score, by=by)
            emit(run(get_context, sent), as_json, _print_answer)
            return
        found = suggestions(get_context(), opportunity, limit=top)
        if as_json:
            print_json([r.to_json() for r in found])
            return
        console.print(
            table(
                "Suggestions from the answer library",
                ("Requirement", "Text", "Answer", "Score", "Note", "Library answer"),
                [
                    (
                        r.req_id,
                        _short(r.text, 40),
                        s["answer_id"] if s else "—",
                        f"{s['score']:.1f}" if s else "",
                        ", ".join(
                            n
                            for n, on in (
                                ("accept", s["auto_accept"]),
                                ("review due", s["review_due"]),
                            )
                            if on
                        )
                        if s
                        else "",
                        _short(s["answer"], 60) if s else "",
                    )
                    for r in found
                    for s in (r.to_json()["suggestions"] or (None,))
                ],
            )
        )

    @rfp_app.command("answer")
    def rfp_answer(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        requirement: Annotated[str, typer.Argument(help="The requirement id, as in the file")],
        library: Annotated[
            str | None, typer.Option("--library", help="A library answer id")
        ] = None,
        text: Annotated[
            str | None,
            typer.Option("--text", help="Our own answer (with --library: the edited answer)"),
        ] = None,
        edit: Annotated[
            bool,
            typer.Option("--edit", help="Edit the library answer in $EDITOR before recording it"),
        ] = False,
        compliance: Annotated[
            str | None,
            typer.Option("--compliance", help="comply | partial | non_comply | n_a"),
        ] = None,
        clear: Annotated[bool, typer.Option("--clear", help="Remove the answer")] = False,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record the answer to one requirement: from the library (as it is, or edited with
        --edit / --text), or in our own words."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import AnswerRequirement

        if edit:
            text = _edited(get_context, library, text)
        sent = command(
            AnswerRequirement,
            opportunity=opportunity,
            requirement=requirement,
            library=library,
            text=text,
            compliance=compliance,
            clear=clear,
            by=by,
        )
        emit(run(get_context, sent), as_json, _print_answer)

    @rfp_app.command("assign")
    def rfp_assign(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        requirement: Annotated[str, typer.Argument(help="The requirement id, as in the file")],
        to: Annotated[str, typer.Option("--to", help="The new owner's e-mail")],
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Make someone on the bid's team the owner who answers one requirement."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import AssignRequirement

        sent = command(
            AssignRequirement, opportunity=opportunity, requirement=requirement, to=to, by=by
        )
        emit(run(get_context, sent), as_json, _print_answer)

    @rfp_app.command("review")
    def rfp_review(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        requirement: Annotated[str, typer.Argument(help="The requirement id, as in the file")],
        reject: Annotated[
            bool, typer.Option("--reject", help="Send the answer back to its owner")
        ] = False,
        reason: Annotated[
            str | None, typer.Option("--reason", help="With --reject: what must change")
        ] = None,
        save_to_library: Annotated[
            bool,
            typer.Option(
                "--save-to-library", help="Keep the reviewed answer in the answer library"
            ),
        ] = False,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """The reviewer's verdict on one answer: reviewed (its compliance confirmed) or sent
        back with a reason."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import ReviewRequirement

        sent = command(
            ReviewRequirement,
            opportunity=opportunity,
            requirement=requirement,
            reject=reject,
            reason=reason,
            save_to_library=save_to_library,
            by=by,
        )
        emit(run(get_context, sent), as_json, _print_answer)

    @rfp_app.command("export")
    def rfp_export(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        out: Annotated[Path, typer.Option("--out", help="The file to write (.xlsx or .csv)")],
        as_json: JsonOption = False,
    ) -> None:
        """Write our answers and compliance into a copy of the customer's own questionnaire."""
        from orchestrator.bid.answers.rfp import export_rows
        from orchestrator.decisions.rfp_rules import load_rfp_rules
        from orchestrator.documents.questionnaire import write_answers

        ctx = get_context()
        rows = export_rows(ctx, opportunity)
        written = write_answers(rows, load_rfp_rules(ctx.settings.rules_dir), out)
        answered = sum(1 for _, _, answer, _ in rows.answers if answer)
        emit(
            {
                "opportunity": _ref(opportunity),
                "file": str(out),
                "source_file": rows.file_name,
                "requirements": written,
                "answered": answered,
            },
            as_json,
            lambda r: console.print(
                f"{esc(r['file'])}: {r['answered']} of {r['requirements']} requirement(s) "
                f"answered, in a copy of {esc(r['source_file'])}"
            ),
        )

    @library_app.command("import")
    def library_import(
        file: Annotated[Path | None, typer.Argument(help="Answer library (.yaml or .csv)")] = None,
        starter: Annotated[
            bool, typer.Option("--starter", help="The starter library shipped in rules/")
        ] = False,
        by: ByOption = None,
        as_json: JsonOption = False,
        dry_run: DryRunOption = False,
        problems: ProblemsOption = None,
    ) -> None:
        """Add or update library answers (the same id updates); all entries or none."""
        from orchestrator.cli.commanding import command, upload
        from orchestrator.cli.intake import run_import
        from orchestrator.core.commands import ImportLibrary
        from orchestrator.errors import InputError

        if (file is None) == (not starter):
            raise InputError("give a FILE or --starter", field="file")
        sent = command(
            ImportLibrary,
            file=upload(file) if file else None,
            starter=starter,
            dry_run=dry_run,
            by=by,
        )

        def human(r: dict[str, Any], _: str | None) -> None:
            if r.get("message", "").endswith("(dry run: nothing changed)"):
                console.print(esc(r["message"]))
                return
            console.print(
                f"answer library: {r['added']} added, {r['updated']} updated, "
                f"{r['unchanged']} unchanged from {esc(Path(r['file']).name)}"
            )

        run_import(
            get_context,
            sent,
            file or Path("answer_library.yaml"),
            as_json=as_json,
            problems=problems,
            human=human,
            extra={"file": str(file)} if file is not None else None,  # as the user named it
        )

    @library_app.command("export")
    def library_export(
        file: Annotated[Path, typer.Argument(help="Where to write (.yaml or .csv)")],
        as_json: JsonOption = False,
    ) -> None:
        """Write the whole library (with its usage counts) as YAML or CSV."""
        from orchestrator.bid.answers.library import library_rows
        from orchestrator.documents.library import write_library

        rows = library_rows(get_context())
        write_library(rows, file)
        emit(
            {"file": str(file), "answers": len(rows)},
            as_json,
            lambda r: console.print(f"{esc(r['file'])}: {r['answers']} answer(s)"),
        )

    @library_app.command("list")
    def library_list(
        tag: Annotated[str | None, typer.Option("--tag", help="Only answers with this tag")] = None,
        due: Annotated[
            bool, typer.Option("--review-due", help="Only answers whose review is due")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """The library: each answer, its owner, review date, usage and whether review is due."""
        from orchestrator.bid.answers.library import library_rows

        rows = [r for r in library_rows(get_context(), tag=tag) if r["review_due"] or not due]
        if as_json:
            print_json(rows)
            return
        console.print(
            table(
                "Answer library",
                ("Id", "Question", "Tags", "Owner", "Reviewed", "Used", "Won", "Note"),
                [
                    (
                        r["id"],
                        _short(r["question"], 50),
                        ", ".join(r["tags"]),
                        r["owner"],
                        r["last_reviewed"],
                        r["used"],
                        r["used_in_won_bids"],
                        "review due" if r["review_due"] else "",
                    )
                    for r in rows
                ],
            )
        )


def _edited(get_context: Callable[[], Context], library: str | None, text: str | None) -> str:
    """The answer as the person left it in $EDITOR, starting from `text` or the library
    answer; unchanged or emptied, nothing is recorded."""
    import click

    from orchestrator.bid.answers.library import library_rows
    from orchestrator.errors import InputError

    if library is None:
        raise InputError("--edit starts from a library answer: give --library ID", field="edit")
    start = text
    if start is None:
        found = [r for r in library_rows(get_context()) if r["id"] == library]
        if not found:
            raise InputError(
                f"no answer {library} in the answer library (bid rfp library list)",
                field="library",
            )
        start = str(found[0]["answer"])
    edited = click.edit(start)
    if edited is None or not edited.strip():
        raise InputError("the answer was left unchanged or empty; nothing recorded", field="edit")
    return edited.strip()


def _print_import(result: Result) -> None:
    ref, name = result["opportunity"], Path(result["file"]).name
    if result["already_imported"]:
        console.print(f"{ref}: {esc(name)} is already imported; nothing changed")
        return
    where = f" (sheet '{esc(result['sheet'])}')" if result["sheet"] else ""
    console.print(
        f"{ref}: {result['requirements']} requirement(s) from {esc(name)}"
        f"{where}, header row {result['header_row']}: {result['added']} new, "
        f"{result['updated']} updated ({result['kept_answers']} answers kept), "
        f"{result['removed']} removed; {result['mandatory']} mandatory, "
        f"{result['section_headings']} section heading(s)"
    )


def _print_answer(result: Result) -> None:
    console.print(f"{result['opportunity']}: {esc(result['message'])}")


def _ref(opportunity: str) -> str:
    from orchestrator.bid.facts import parse_ref
    from orchestrator.store.models import format_ref

    return format_ref(parse_ref(opportunity))
