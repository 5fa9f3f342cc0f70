"""Handlers of the customer's questionnaire and the answer library: import it (the file as
contents), answer requirements one by one or from the library's suggestions, assign them,
review the answers, and import library answers (a library editor's or an admin's, checked by
the service)."""

from __future__ import annotations

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, uploaded
from orchestrator.runtime.runner import FlowRunner


@handles(c.ImportRfp)
def _import(ctx: Context, command: c.ImportRfp, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.rfp import import_questionnaire
    from orchestrator.decisions.rfp_rules import load_rfp_rules
    from orchestrator.intake.questionnaire import parse_questionnaire

    rules = load_rfp_rules(ctx.settings.rules_dir)
    with uploaded(command.file) as path:
        parsed = parse_questionnaire(path, rules, sheet=command.sheet, columns=command.columns)
        if command.dry_run:
            return c.RfpImported(
                command=command.name,
                opportunity=command.opportunity,
                message=f"{len(parsed.requirements)} requirement(s) read (dry run: nothing "
                "changed)",
                file=command.file.filename,
                added=0,
                updated=0,
                removed=0,
                kept_answers=0,
                mandatory=sum(1 for r in parsed.requirements if r.mandatory),
                section_headings=0,
                already_imported=False,
                sheet=parsed.sheet,
                header_row=parsed.header_row,
                requirements=len(parsed.requirements),
            )
        done = import_questionnaire(ctx, command.opportunity, parsed, actor=actor)
    data = done.to_json()
    return c.RfpImported(
        command=command.name,
        message=f"{len(parsed.requirements)} requirement(s) read",
        **{**data, "already_imported": bool(data["already_imported"])},
        sheet=parsed.sheet,
        header_row=parsed.header_row,
        requirements=len(parsed.requirements),
    )


def _answered(
    name: str, ref: str, answered: tuple[str, ...], message: str, drafts: tuple[str, ...] = ()
) -> c.Result:
    return c.RfpAnswered(
        command=name,
        opportunity=ref,
        answered=list(answered),
        drafts=list(drafts),
        message=message,
    )


@handles(c.AnswerRequirement)
def _answer(ctx: Context, command: c.AnswerRequirement, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.rfp import answer_requirement

    done = answer_requirement(
        ctx,
        command.opportunity,
        command.requirement,
        by=actor,
        library=command.library,
        text=command.text,
        compliance=command.compliance,
        clear=command.clear,
    )
    return _answered(command.name, done.ref, done.answered, done.message)


@handles(c.AcceptSuggestions)
def _accept(ctx: Context, command: c.AcceptSuggestions, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.rfp import accept_suggestions

    done = accept_suggestions(ctx, command.opportunity, min_score=command.min_score, by=actor)
    return _answered(command.name, done.ref, done.answered, done.message, done.drafts)


@handles(c.AssignRequirement)
def _assign(ctx: Context, command: c.AssignRequirement, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.rfp_review import assign_requirement

    done = assign_requirement(
        ctx, command.opportunity, command.requirement, to=command.to, by=actor
    )
    return c.RfpReviewed(
        command=command.name,
        opportunity=done.ref,
        message=done.message,
        requirement=done.requirement,
        state=done.state.value,
        owner=done.owner,
    )


@handles(c.ReviewRequirement)
def _review(ctx: Context, command: c.ReviewRequirement, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.rfp_review import review_requirement

    done = review_requirement(
        ctx,
        command.opportunity,
        command.requirement,
        by=actor,
        reject=command.reject,
        reason=command.reason,
        save_to_library=command.save_to_library,
    )
    return c.RfpReviewed(
        command=command.name,
        opportunity=done.ref,
        message=done.message,
        requirement=done.requirement,
        state=done.state.value,
        owner=done.owner,
        library=done.library,
    )


@handles(c.ImportLibrary)
def _library(ctx: Context, command: c.ImportLibrary, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.answers.library import import_library
    from orchestrator.intake.answer_library import parse_library

    today = ctx.clock().date()
    if command.file is None:
        starter = ctx.settings.rules_dir / "answer_library.yaml"
        entries, name = parse_library(starter, today), str(starter)
    else:
        with uploaded(command.file) as path:
            entries, name = parse_library(path, today), command.file.filename
    if command.dry_run:
        return c.LibraryImported(
            command=command.name,
            message=f"{len(entries)} entries read (dry run: nothing changed)",
            file=name,
            entries=len(entries),
            added=0,
            updated=0,
            unchanged=0,
        )
    done = import_library(ctx, entries, by=actor)
    return c.LibraryImported(
        command=command.name,
        message=f"{done.added} added, {done.updated} updated, {done.unchanged} unchanged",
        file=name,
        entries=len(entries),
        added=done.added,
        updated=done.updated,
        unchanged=done.unchanged,
    )
