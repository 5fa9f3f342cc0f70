"""The customer's questionnaire on a bid: imported, answered (from the library or in our own
words), its coverage, and the suggestions the answer library makes.

Each requirement gets an owner (its section → a role, rules/rfp.yaml), the milestone its
answer is due by (planned when the questionnaire is imported), a compliance status and an
answer. Unanswered mandatory requirements hold bid production (rules/production_exit.yaml,
measure `rfp_mandatory_answered`). The questionnaire is answered until the governance review
starts: after that an answer would change the proposal the approvers read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.answers.library import candidates_for
from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, plan_milestones, refusals_kept
from orchestrator.commercial.answer_matching import Suggestion, suggest
from orchestrator.context import Context
from orchestrator.decisions.rfp_rules import RfpRules, load_rfp_rules
from orchestrator.errors import InputError, NotFound, TransitionRefused
from orchestrator.intake.questionnaire_rows import ExportRows, ParsedQuestionnaire
from orchestrator.lifecycle.table import State
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import (
    Compliance,
    LibraryAnswer,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Questionnaire,
    Requirement,
)

RFP_STAGE = "rfp_import"
ANSWERING_STATES = frozenset(
    {State.PRE_QUALIFICATION, State.QUALIFICATION, State.KICK_OFF, State.BID_PRODUCTION}
)
"""States in which the questionnaire may be imported and answered."""


def _check_answering(opportunity: Opportunity, what: str) -> None:
    if opportunity.state not in ANSWERING_STATES:
        raise TransitionRefused(
            f"{opportunity.ref} is in {opportunity.state.value}: the questionnaire is {what} "
            "until the governance review starts (a rejection sends it back to bid production)"
        )


def answered(requirement: Requirement) -> bool:
    return bool(requirement.answer) and requirement.compliance is not None


def requirements_of(session: Session, opportunity_id: int) -> list[Requirement]:
    return list(
        session.exec(
            select(Requirement)
            .where(Requirement.opportunity_id == opportunity_id)
            .order_by(col(Requirement.position))
        ).all()
    )


def current_questionnaire(session: Session, opportunity_id: int) -> Questionnaire | None:
    return session.exec(
        select(Questionnaire).where(
            Questionnaire.opportunity_id == opportunity_id,
            Questionnaire.current == True,  # noqa: E712
        )
    ).first()


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionnaireImport:
    ref: str
    file_name: str
    added: int
    updated: int
    removed: int
    kept_answers: int
    mandatory: int
    headings: int
    already: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "file": self.file_name,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "kept_answers": self.kept_answers,
            "mandatory": self.mandatory,
            "section_headings": self.headings,
            "already_imported": self.already,
        }


def import_questionnaire(
    ctx: Context, ref: str, parsed: ParsedQuestionnaire, *, actor: str
) -> QuestionnaireImport:
    """Store the questionnaire and its requirements in one transaction.

    The same file content twice imports nothing. A new version replaces the requirements:
    answers stay with the ids that are still there; ids no longer in the file go.
    """
    rules = load_rfp_rules(ctx.settings.rules_dir)
    with refusals_kept(ctx, ref, "rfp_import", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        _check_answering(opportunity, "imported")
        opportunity_id = opportunity.id or 0
        held = session.exec(
            select(Questionnaire).where(
                Questionnaire.opportunity_id == opportunity_id,
                Questionnaire.content_hash == parsed.content_hash,
            )
        ).first()
        if held is not None and held.current:
            count = len(requirements_of(session, opportunity_id))
            return QuestionnaireImport(
                opportunity.ref, parsed.file_name, 0, 0, 0, count, 0, parsed.headings, True
            )
        for old in session.exec(
            select(Questionnaire).where(Questionnaire.opportunity_id == opportunity_id)
        ).all():
            old.current = False
            session.add(old)
        if held is None:
            held = Questionnaire(
                opportunity_id=opportunity_id,
                file_name=parsed.file_name,
                content_hash=parsed.content_hash,
                content=parsed.content,
                sheet=parsed.sheet,
                header_row=parsed.header_row,
                columns=dict(parsed.columns),
                imported_by=actor,
                imported_at=ctx.clock(),
            )
        held.current = True
        session.add(held)
        session.flush()
        existing = {r.req_id: r for r in requirements_of(session, opportunity_id)}
        added = updated = kept = 0
        now = ctx.clock()
        for position, item in enumerate(parsed.requirements, start=1):
            row = existing.pop(item.req_id, None)
            if row is None:
                row = Requirement(
                    opportunity_id=opportunity_id,
                    questionnaire_id=held.id or 0,
                    req_id=item.req_id,
                    row=item.row,
                    position=position,
                    section=item.section,
                    text=item.text,
                    mandatory=item.mandatory,
                    owner_role=rules.owner_for(item.section, item.text),
                    milestone=rules.due_milestone,
                )
                added += 1
            else:
                updated += 1
                kept += answered(row)
            row.questionnaire_id, row.row, row.position = held.id or 0, item.row, position
            row.section, row.text, row.mandatory = item.section, item.text, item.mandatory
            row.owner_role = rules.owner_for(item.section, item.text)
            if item.answer and not row.answer:  # answers the customer's file already holds
                row.answer, row.compliance = item.answer, item.compliance or Compliance.COMPLY
                row.answered_by, row.answered_at = actor, now
            session.add(row)
        for gone in existing.values():
            session.delete(gone)
        session.flush()
        plan_milestones(session, ctx, opportunity, RFP_STAGE, now)
        _sync_answers_milestone(session, ctx, opportunity, rules)
        result = QuestionnaireImport(
            opportunity.ref,
            parsed.file_name,
            added,
            updated,
            len(existing),
            kept,
            sum(1 for r in parsed.requirements if r.mandatory),
            parsed.headings,
        )
        audit(
            session,
            ctx,
            opportunity,
            "rfp_imported",
            actor=actor,
            inputs={**result.to_json(), "content_hash": parsed.content_hash},
        )
        return result


def _sync_answers_milestone(
    session: Session, ctx: Context, opportunity: Opportunity, rules: RfpRules
) -> None:
    """The answers' milestone is done when every requirement is answered, open otherwise."""
    requirements = requirements_of(session, opportunity.id or 0)
    done = bool(requirements) and all(answered(r) for r in requirements)
    for milestone in session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id, Milestone.name == rules.due_milestone
        )
    ).all():
        if done and milestone.status == MilestoneStatus.OPEN:
            milestone.status, milestone.completed_at = MilestoneStatus.DONE, ctx.clock()
        elif not done and milestone.status == MilestoneStatus.DONE:
            milestone.status, milestone.completed_at = MilestoneStatus.OPEN, None
        session.add(milestone)


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerResult:
    ref: str
    answered: tuple[str, ...]
    """Requirement ids answered (or cleared) by this call."""
    message: str


def _compliance(value: str | None) -> Compliance | None:
    if value is None:
        return None
    try:
        return Compliance(value.strip().lower().replace("-", "_").replace("n/a", "n_a"))
    except ValueError:
        raise InputError(
            f"'{value}' is not one of {', '.join(c.value for c in Compliance)}",
            field="compliance",
        ) from None


def _library_answer(session: Session, answer_id: str) -> LibraryAnswer:
    entry = session.exec(select(LibraryAnswer).where(LibraryAnswer.answer_id == answer_id)).first()
    if entry is None:
        raise NotFound(f"no answer {answer_id} in the answer library (bid rfp library list)")
    return entry


def answer_requirement(
    ctx: Context,
    ref: str,
    req_id: str,
    *,
    by: str,
    library: str | None = None,
    text: str | None = None,
    compliance: str | None = None,
    clear: bool = False,
) -> AnswerResult:
    """Record the answer to one requirement: a library answer (its compliance unless given),
    our own text (compliance given, else comply), or none (`clear`)."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    if sum((library is not None, text is not None, clear)) != 1:
        raise InputError("give exactly one of --library ID, --text TEXT or --clear", field="answer")
    if text is not None:
        text = text.strip()
        if not text:
            raise InputError("the answer text is empty", field="text")
        if len(text) > rules.max_text:
            raise InputError(f"is longer than {rules.max_text:,} characters", field="text")
    status = _compliance(compliance)
    with refusals_kept(ctx, ref, "rfp_answer", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        _check_answering(opportunity, "answered")
        requirement = session.exec(
            select(Requirement).where(
                Requirement.opportunity_id == opportunity.id, Requirement.req_id == req_id
            )
        ).first()
        if requirement is None:
            raise NotFound(f"{opportunity.ref} has no requirement '{req_id}' (bid rfp status)")
        now = ctx.clock()
        if clear:
            requirement.answer = requirement.compliance = requirement.library_answer = None
            requirement.answered_by = requirement.answered_at = None
            message = f"answer to {req_id} cleared"
        elif library is not None:
            entry = _library_answer(session, library)
            _set(requirement, entry.answer, status or entry.compliance, entry.answer_id, by, now)
            message = f"{req_id} answered with library answer {entry.answer_id}"
        else:
            _set(requirement, text or "", status or Compliance.COMPLY, None, by, now)
            message = f"{req_id} answered"
        session.add(requirement)
        session.flush()
        _sync_answers_milestone(session, ctx, opportunity, rules)
        audit(
            session,
            ctx,
            opportunity,
            "rfp_answered",
            actor=by,
            inputs={
                "requirement": req_id,
                "library": requirement.library_answer,
                "compliance": requirement.compliance,
                "cleared": clear,
            },
        )
        return AnswerResult(opportunity.ref, (req_id,), message)


def _set(
    requirement: Requirement,
    text: str,
    status: Compliance,
    library: str | None,
    by: str,
    now: datetime,
) -> None:
    requirement.answer, requirement.compliance = text, status
    requirement.library_answer, requirement.answered_by, requirement.answered_at = library, by, now


def accept_suggestions(ctx: Context, ref: str, *, min_score: float, by: str) -> AnswerResult:
    """Answer every unanswered requirement with its best library answer scoring at least
    `min_score` (a first pass people then review), in one transaction."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    with refusals_kept(ctx, ref, "rfp_answer", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        _check_answering(opportunity, "answered")
        open_rows = [r for r in requirements_of(session, opportunity.id or 0) if not answered(r)]
        candidates = candidates_for(session, ctx)
        best = suggest([r.text for r in open_rows], candidates, rules.library, limit=1)
        entries = {
            e.answer_id: e
            for e in session.exec(
                select(LibraryAnswer).where(
                    col(LibraryAnswer.answer_id).in_({s[0].answer_id for s in best if s})
                )
            ).all()
        }
        now = ctx.clock()
        done: list[str] = []
        for requirement, found in zip(open_rows, best, strict=True):
            if not found or found[0].score < min_score:
                continue
            entry = entries[found[0].answer_id]
            _set(requirement, entry.answer, entry.compliance, entry.answer_id, by, now)
            session.add(requirement)
            done.append(requirement.req_id)
        session.flush()
        _sync_answers_milestone(session, ctx, opportunity, rules)
        if done:
            audit(
                session,
                ctx,
                opportunity,
                "rfp_answered",
                actor=by,
                inputs={"accepted_suggestions": len(done), "min_score": min_score},
            )
        left = len(open_rows) - len(done)
        return AnswerResult(
            opportunity.ref,
            tuple(done),
            f"{len(done)} requirement(s) answered from the library (score >= {min_score:g}); "
            f"{left} left to answer",
        )


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionCoverage:
    section: str
    owner_role: str
    total: int
    answered: int
    mandatory: int
    mandatory_open: int
    compliance: dict[str, int]


@dataclass(frozen=True)
class RfpStatus:
    ref: str
    file_name: str | None
    total: int
    answered: int
    mandatory: int
    mandatory_open: tuple[str, ...]
    compliance: dict[str, int]
    sections: tuple[SectionCoverage, ...]
    due: str | None
    """When the answers are due (the milestone), as "YYYY-MM-DD HH:MM UTC"."""
    milestone: str | None
    requirements: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "questionnaire": self.file_name,
            "total": self.total,
            "answered": self.answered,
            "mandatory": self.mandatory,
            "mandatory_open": list(self.mandatory_open),
            "compliance": self.compliance,
            "due_milestone": self.milestone,
            "due": self.due,
            "sections": [s.__dict__ for s in self.sections],
            "requirements": list(self.requirements),
        }


def rfp_status(ctx: Context, ref: str) -> RfpStatus:
    """Coverage of the questionnaire: answered, mandatory open, compliance, per section."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = requirements_of(session, opportunity.id or 0)
        questionnaire = current_questionnaire(session, opportunity.id or 0)
        milestone_name = rows[0].milestone if rows else None
        milestone = (
            session.exec(
                select(Milestone).where(
                    Milestone.opportunity_id == opportunity.id, Milestone.name == milestone_name
                )
            ).first()
            if milestone_name
            else None
        )
    by_section: dict[str, list[Requirement]] = defaultdict(list)
    for row in rows:
        by_section[row.section].append(row)
    sections = tuple(
        SectionCoverage(
            section=name or "(no section)",
            owner_role=Counter(r.owner_role for r in members).most_common(1)[0][0],
            total=len(members),
            answered=sum(1 for r in members if answered(r)),
            mandatory=sum(1 for r in members if r.mandatory),
            mandatory_open=sum(1 for r in members if r.mandatory and not answered(r)),
            compliance=dict(Counter(r.compliance.value for r in members if r.compliance)),
        )
        for name, members in by_section.items()
    )
    return RfpStatus(
        ref=opportunity.ref,
        file_name=questionnaire.file_name if questionnaire else None,
        total=len(rows),
        answered=sum(1 for r in rows if answered(r)),
        mandatory=sum(1 for r in rows if r.mandatory),
        mandatory_open=tuple(r.req_id for r in rows if r.mandatory and not answered(r)),
        compliance={c.value: sum(1 for r in rows if r.compliance == c) for c in Compliance},
        sections=sections,
        due=milestone.due_at.strftime("%Y-%m-%d %H:%M UTC") if milestone else None,
        milestone=milestone_name,
        requirements=tuple(
            {
                "id": r.req_id,
                "row": r.row,
                "section": r.section,
                "text": r.text,
                "mandatory": r.mandatory,
                "owner_role": r.owner_role,
                "compliance": r.compliance.value if r.compliance else None,
                "answer": r.answer,
                "library_answer": r.library_answer,
                "answered_by": r.answered_by,
            }
            for r in rows
        ),
    )


@dataclass(frozen=True)
class RequirementSuggestions:
    req_id: str
    text: str
    mandatory: bool
    suggestions: tuple[Suggestion, ...]


def suggestions(
    ctx: Context, ref: str, *, limit: int | None = None, include_answered: bool = False
) -> list[RequirementSuggestions]:
    """The library's best answers per (unanswered) requirement, with their scores."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = [
            r
            for r in requirements_of(session, opportunity.id or 0)
            if include_answered or not answered(r)
        ]
        candidates = candidates_for(session, ctx)
    found = suggest([r.text for r in rows], candidates, rules.library, limit=limit)
    return [
        RequirementSuggestions(r.req_id, r.text, r.mandatory, tuple(s))
        for r, s in zip(rows, found, strict=True)
    ]


def export_rows(ctx: Context, ref: str) -> ExportRows:
    """The stored questionnaire and the answers, for writing into a copy of it."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        questionnaire = current_questionnaire(session, opportunity.id or 0)
        if questionnaire is None:
            raise NotFound(f"{opportunity.ref} has no questionnaire (bid rfp import)")
        rows = requirements_of(session, opportunity.id or 0)
    return ExportRows(
        questionnaire.file_name,
        questionnaire.content,
        questionnaire.sheet,
        questionnaire.header_row,
        {k: int(v) for k, v in questionnaire.columns.items()},
        tuple((r.row, r.req_id, r.answer, r.compliance) for r in rows),
    )
