"""The customer's questionnaire on a bid: imported, answered (from the library or in our own
words), its coverage, and the suggestions the answer library makes.

Each requirement gets an owner (its section → a role, rules/rfp.yaml, → the bid's team member
holding it; `bid rfp assign` changes it), the milestone its answer is due by (planned when
the questionnaire is imported), a state (open → draft → answered → reviewed, see
`RequirementState`), a compliance status and an answer. The library's suggestions above the
calibrated threshold (rules/rfp.yaml `library.auto_accept`) are recorded as answers whose
compliance stays "to review" until a person confirms it; below it they are drafts for the
owner. Unanswered mandatory requirements hold bid production, and unreviewed ones the design
freeze (rules/production_exit.yaml, `rfp_mandatory_answered` and `rfp_mandatory_reviewed`;
the review itself is `bid/answers/rfp_review.py`). The questionnaire is answered until the
governance review starts: after that an answer would change the proposal the approvers read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.answers.library import candidates_for
from orchestrator.bid.facts import get_opportunity, team
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, plan_milestones, refusals_kept
from orchestrator.commercial.answer_matching import Suggestion, auto_acceptable, suggest
from orchestrator.context import Context
from orchestrator.decisions.rfp_rules import RfpRules, load_rfp_rules, load_synonyms
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
    RequirementState,
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


ANSWERED_STATES = frozenset({RequirementState.ANSWERED, RequirementState.REVIEWED})


def answered(requirement: Requirement) -> bool:
    return (
        requirement.state in ANSWERED_STATES
        and bool(requirement.answer)
        and requirement.compliance is not None
    )


def owners_by_role(session: Session, opportunity_id: int) -> dict[str, str]:
    """The first team member (e-mail) holding each role on the bid."""
    owners: dict[str, str] = {}
    for role, person in team(session, opportunity_id):
        owners.setdefault(role, person.email)
    return owners


def compliance_label(requirement: Requirement) -> str | None:
    """The compliance as people read it: "to_review" while no person confirmed it."""
    if requirement.compliance is None:
        return None
    return requirement.compliance.value if requirement.compliance_confirmed else "to_review"


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
        owners = owners_by_role(session, opportunity_id)
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
            row.owner = row.owner or owners.get(row.owner_role) or owners.get("bid_manager")
            if item.answer and not row.answer:  # answers the customer's file already holds
                row.answer, row.compliance = item.answer, item.compliance or Compliance.COMPLY
                row.answered_by, row.answered_at = actor, now
                row.state, row.compliance_confirmed = RequirementState.ANSWERED, True
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
    drafts: tuple[str, ...] = ()
    """Requirement ids given a draft from the library (below the automatic threshold)."""


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
    a library answer edited (`library` and `text`: the text is ours, the library id says
    where it started), our own text (compliance given, else comply), or none (`clear`).
    A person answering confirms the compliance; a changed answer needs its review again."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    if clear and (library is not None or text is not None):
        raise InputError("--clear takes neither --library nor --text", field="answer")
    if not clear and library is None and text is None:
        raise InputError("give --library ID, --text TEXT (or both) or --clear", field="answer")
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
            requirement.state = RequirementState.OPEN
            requirement.reviewed_by = requirement.reviewed_at = None
            message = f"answer to {req_id} cleared"
        elif library is not None:
            entry = _library_answer(session, library)
            edited = text is not None and text != entry.answer
            _set(
                requirement,
                text if text is not None else entry.answer,
                status or entry.compliance,
                entry.answer_id,
                by,
                now,
            )
            message = (
                f"{req_id} answered from library answer {entry.answer_id}, edited"
                if edited
                else f"{req_id} answered with library answer {entry.answer_id}"
            )
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
                "edited": library is not None and text is not None,
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
    *,
    confirmed: bool = True,
) -> None:
    requirement.answer, requirement.compliance = text, status
    requirement.library_answer, requirement.answered_by, requirement.answered_at = library, by, now
    requirement.state, requirement.compliance_confirmed = RequirementState.ANSWERED, confirmed
    requirement.draft = requirement.draft_library = requirement.draft_score = None
    requirement.reviewed_by = requirement.reviewed_at = None


def accept_suggestions(
    ctx: Context, ref: str, *, min_score: float | None = None, by: str
) -> AnswerResult:
    """A first pass over every unanswered requirement, in one transaction: its best library
    answer is recorded when the matcher is sure enough — the calibrated threshold of
    rules/rfp.yaml (`library.auto_accept`, on the match alone) or, with `min_score`, the
    score a person picked — and never when the answer is past its review date. Its
    compliance is the library's, "to review" until a person confirms it. Below the threshold
    the best answer becomes a draft for the requirement's owner."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    synonyms = load_synonyms(ctx.settings.rules_dir)
    threshold = rules.library.auto_accept if min_score is None else min_score
    with refusals_kept(ctx, ref, "rfp_answer", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        _check_answering(opportunity, "answered")
        open_rows = [r for r in requirements_of(session, opportunity.id or 0) if not answered(r)]
        candidates = candidates_for(session, ctx)
        best = suggest(
            [r.text for r in open_rows],
            candidates,
            rules.library,
            limit=1,
            synonyms=synonyms,
            cache_dir=ctx.settings.cache_dir,
        )
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
        drafts: list[str] = []
        for requirement, found in zip(open_rows, best, strict=True):
            if not found:
                continue
            top = found[0]
            entry = entries[top.answer_id]
            sure = (
                auto_acceptable(top, threshold)
                if min_score is None
                else top.score >= min_score and not top.review_due
            )
            if sure:
                _set(
                    requirement,
                    entry.answer,
                    entry.compliance,
                    entry.answer_id,
                    by,
                    now,
                    confirmed=False,
                )
                done.append(requirement.req_id)
            elif requirement.state == RequirementState.OPEN:
                requirement.draft, requirement.draft_library = entry.answer, entry.answer_id
                requirement.draft_score = top.match
                requirement.state = RequirementState.DRAFT
                drafts.append(requirement.req_id)
            else:
                continue
            session.add(requirement)
        session.flush()
        _sync_answers_milestone(session, ctx, opportunity, rules)
        if done or drafts:
            audit(
                session,
                ctx,
                opportunity,
                "rfp_answered",
                actor=by,
                inputs={
                    "accepted_suggestions": len(done),
                    "drafts": len(drafts),
                    "min_score": threshold,
                    "calibrated": min_score is None,
                },
            )
        left = len(open_rows) - len(done)
        how = "calibrated threshold" if min_score is None else "score"
        return AnswerResult(
            opportunity.ref,
            tuple(done),
            f"{len(done)} requirement(s) answered from the library ({how} >= {threshold:g}; "
            f"compliance to review); {len(drafts)} draft(s) for their owners; "
            f"{left} left to answer",
            tuple(drafts),
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
    states: dict[str, int] = field(default_factory=dict)
    """Requirements per state (open, draft, answered, reviewed)."""
    mandatory_unreviewed: tuple[str, ...] = ()
    compliance_to_review: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "questionnaire": self.file_name,
            "total": self.total,
            "answered": self.answered,
            "states": self.states,
            "mandatory": self.mandatory,
            "mandatory_open": list(self.mandatory_open),
            "mandatory_unreviewed": list(self.mandatory_unreviewed),
            "compliance_to_review": self.compliance_to_review,
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
        requirements=tuple(requirement_json(r) for r in rows),
        states={s.value: sum(1 for r in rows if r.state == s) for s in RequirementState},
        mandatory_unreviewed=tuple(
            r.req_id for r in rows if r.mandatory and r.state != RequirementState.REVIEWED
        ),
        compliance_to_review=sum(
            1 for r in rows if r.compliance is not None and not r.compliance_confirmed
        ),
    )


def requirement_json(r: Requirement) -> dict[str, Any]:
    """One requirement as the doors show it: its answer, state, owner and review."""
    return {
        "id": r.req_id,
        "row": r.row,
        "section": r.section,
        "text": r.text,
        "mandatory": r.mandatory,
        "owner_role": r.owner_role,
        "owner": r.owner,
        "state": r.state.value,
        "compliance": compliance_label(r),
        "compliance_confirmed": r.compliance_confirmed if r.compliance else None,
        "answer": r.answer,
        "library_answer": r.library_answer,
        "answered_by": r.answered_by,
        "draft": r.draft,
        "draft_library": r.draft_library,
        "draft_score": r.draft_score,
        "reviewed_by": r.reviewed_by,
        "reviewed_at": r.reviewed_at.isoformat() if r.reviewed_at else None,
        "review_note": r.review_note,
    }


@dataclass(frozen=True)
class RequirementSuggestions:
    req_id: str
    text: str
    mandatory: bool
    suggestions: tuple[Suggestion, ...]
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Per suggested library id: its full answer text and compliance."""
    auto_accept: float = 0.0
    """The calibrated threshold from which the best suggestion is accepted automatically."""

    def to_json(self) -> dict[str, Any]:
        return {
            "requirement": self.req_id,
            "mandatory": self.mandatory,
            "text": self.text,
            "suggestions": [
                {
                    "answer_id": s.answer_id,
                    "score": s.score,
                    "match": s.match,
                    "review_due": s.review_due,
                    "auto_accept": index == 0 and auto_acceptable(s, self.auto_accept),
                    "compliance": self.answers[s.answer_id][1],
                    "answer": self.answers[s.answer_id][0],
                }
                for index, s in enumerate(self.suggestions)
            ],
        }


def suggestions(
    ctx: Context, ref: str, *, limit: int | None = None, include_answered: bool = False
) -> list[RequirementSuggestions]:
    """The library's best answers per (unanswered) requirement, with their calibrated scores
    and full texts."""
    rules = load_rfp_rules(ctx.settings.rules_dir)
    synonyms = load_synonyms(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = [
            r
            for r in requirements_of(session, opportunity.id or 0)
            if include_answered or not answered(r)
        ]
        candidates = candidates_for(session, ctx)
    found = suggest(
        [r.text for r in rows],
        candidates,
        rules.library,
        limit=limit,
        synonyms=synonyms,
        cache_dir=ctx.settings.cache_dir,
    )
    texts = {c.answer_id: (c.answer, c.compliance) for c in candidates}
    return [
        RequirementSuggestions(
            r.req_id,
            r.text,
            r.mandatory,
            tuple(s),
            {x.answer_id: texts[x.answer_id] for x in s},
            rules.library.auto_accept,
        )
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
