"""Who answers a requirement, and the reviewer's verdict on the answer.

A requirement's owner is set when the questionnaire is imported (the bid's team member who
holds its section's role) and changed with `bid rfp assign`: the new owner must hold a role
on the bid, so that the one answering can see it. A reviewer accepts an answer (`reviewed`;
its compliance is then confirmed by a person) or sends it back with a reason (a `draft`
again, the answer kept as the owner's starting point). Four eyes: nobody reviews an answer
they recorded themselves. A reviewed answer can go back into the answer library
(`save_to_library`, a library editor's or an admin's): the library answer it started from
is updated, or a new one is made from the requirement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from orchestrator.bid.answers.rfp import _check_answering, _sync_answers_milestone
from orchestrator.bid.facts import get_opportunity, get_person
from orchestrator.bid.team.people import check_actor, holds_any_role, is_system_actor, require_grant
from orchestrator.bid.trail.recording import audit, refusals_kept
from orchestrator.context import Context
from orchestrator.decisions.rfp_rules import load_rfp_rules
from orchestrator.errors import InputError, NotFound, NotPermitted, TransitionRefused
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Grant,
    LibraryAnswer,
    Opportunity,
    Requirement,
    RequirementState,
)

MAX_REASON = 2000


@dataclass(frozen=True)
class ReviewResult:
    ref: str
    requirement: str
    state: RequirementState
    message: str
    owner: str | None = None
    library: str | None = None
    """The library answer the reviewed answer was saved to, if it was."""


def _requirement(session: Session, opportunity: Opportunity, req_id: str) -> Requirement:
    requirement = session.exec(
        select(Requirement).where(
            Requirement.opportunity_id == opportunity.id, Requirement.req_id == req_id
        )
    ).first()
    if requirement is None:
        raise NotFound(f"{opportunity.ref} has no requirement '{req_id}' (bid rfp status)")
    return requirement


def assign_requirement(ctx: Context, ref: str, req_id: str, *, to: str, by: str) -> ReviewResult:
    """Make `to` the owner of one requirement (someone with a role on the bid)."""
    with refusals_kept(ctx, ref, "rfp_assign", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        _check_answering(opportunity, "assigned")
        requirement = _requirement(session, opportunity, req_id)
        try:
            person = get_person(session, to)
        except NotFound:
            raise InputError(f"no person with e-mail {to} (bid people add)", field="to") from None
        if not holds_any_role(session, opportunity, person):
            raise InputError(
                f"{person.email} holds no role on {opportunity.ref}; add them to the team first",
                field="to",
            )
        before = requirement.owner
        if before == person.email:
            return ReviewResult(
                opportunity.ref,
                req_id,
                requirement.state,
                f"{req_id} is already {person.email}'s; nothing changed",
                person.email,
            )
        requirement.owner = person.email
        session.add(requirement)
        audit(
            session,
            ctx,
            opportunity,
            "rfp_assigned",
            actor=by,
            inputs={"requirement": req_id, "from": before, "to": person.email},
        )
        return ReviewResult(
            opportunity.ref,
            req_id,
            requirement.state,
            f"{req_id} assigned to {person.email}" + (f" (was {before})" if before else ""),
            person.email,
        )


def review_requirement(
    ctx: Context,
    ref: str,
    req_id: str,
    *,
    by: str,
    reject: bool = False,
    reason: str | None = None,
    save_to_library: bool = False,
) -> ReviewResult:
    """The reviewer's verdict on one answer: accepted (reviewed, compliance confirmed, and
    with `save_to_library` kept in the library) or rejected with a reason (a draft again)."""
    reason = (reason or "").strip() or None
    if reject and reason is None:
        raise InputError("a rejection needs --reason (what the owner must change)", field="reason")
    if not reject and reason is not None:
        raise InputError("--reason goes with --reject", field="reason")
    if reject and save_to_library:
        raise InputError("a rejected answer is not saved to the library", field="save_to_library")
    if reason is not None and len(reason) > MAX_REASON:
        raise InputError(f"is longer than {MAX_REASON:,} characters", field="reason")
    rules = load_rfp_rules(ctx.settings.rules_dir)
    with refusals_kept(ctx, ref, "rfp_review", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        _check_answering(opportunity, "reviewed")
        requirement = _requirement(session, opportunity, req_id)
        if requirement.state == RequirementState.REVIEWED and not reject:
            if not save_to_library:
                return ReviewResult(
                    opportunity.ref,
                    req_id,
                    requirement.state,
                    f"{req_id} is already reviewed by {requirement.reviewed_by}; nothing changed",
                    requirement.owner,
                )
        elif requirement.state not in (RequirementState.ANSWERED, RequirementState.REVIEWED):
            raise TransitionRefused(
                f"{req_id} is {requirement.state.value}: only an answer can be reviewed "
                f"(bid rfp answer {opportunity.ref} {req_id} ...)"
            )
        reviewer = by if is_system_actor(by) else get_person(session, by).email
        if reviewer == requirement.answered_by and not is_system_actor(by):
            raise NotPermitted(
                f"{reviewer} recorded the answer to {req_id}; another person reviews it"
            )
        now = ctx.clock()
        saved: str | None = None
        if reject:
            requirement.draft, requirement.draft_library = (
                requirement.answer,
                (requirement.library_answer),
            )
            requirement.draft_score = None
            requirement.answer = requirement.compliance = requirement.library_answer = None
            requirement.answered_by = requirement.answered_at = None
            requirement.state, requirement.review_note = RequirementState.DRAFT, reason
            requirement.reviewed_by = requirement.reviewed_at = None
            message = f"{req_id} sent back to {requirement.owner or 'its owner'}: {reason}"
        else:
            if requirement.state != RequirementState.REVIEWED:
                requirement.state, requirement.compliance_confirmed = (
                    RequirementState.REVIEWED,
                    True,
                )
                requirement.reviewed_by, requirement.reviewed_at = reviewer, now
                requirement.review_note = None
            message = f"{req_id} reviewed by {requirement.reviewed_by}"
            if save_to_library:
                saved = _save_to_library(session, opportunity, requirement, by, now)
                requirement.library_answer = saved
                message += f"; saved to the library as {saved}"
        session.add(requirement)
        session.flush()
        _sync_answers_milestone(session, ctx, opportunity, rules)
        audit(
            session,
            ctx,
            opportunity,
            "rfp_reviewed" if not reject else "rfp_review_rejected",
            actor=reviewer,
            reason=reason,
            inputs={"requirement": req_id, "library": saved},
        )
        return ReviewResult(
            opportunity.ref, req_id, requirement.state, message, requirement.owner, saved
        )


def _library_id(opportunity: Opportunity, requirement: Requirement) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{opportunity.ref}-{requirement.req_id}")
    return base.strip("-._")[:64] or f"REQ-{requirement.id}"


def _save_to_library(
    session: Session,
    opportunity: Opportunity,
    requirement: Requirement,
    by: str,
    now: datetime,
) -> str:
    """Update the library answer the reviewed answer started from, or add a new one."""
    editor = require_grant(
        session, by, [Grant.LIBRARY_EDITOR], "save an answer to the answer library"
    )
    if requirement.answer is None or requirement.compliance is None:
        raise TransitionRefused(f"{requirement.req_id} has no answer to save")
    today = now.date()
    entry = None
    if requirement.library_answer:
        entry = session.exec(
            select(LibraryAnswer).where(LibraryAnswer.answer_id == requirement.library_answer)
        ).first()
    if entry is None:
        entry = LibraryAnswer(
            answer_id=_library_id(opportunity, requirement),
            question=requirement.text,
            answer=requirement.answer,
            compliance=requirement.compliance,
            tags=[requirement.section.lower()] if requirement.section else [],
            owner=editor,
            owner_role=requirement.owner_role,
            last_reviewed=today,
            updated_by=editor,
        )
        held = session.exec(
            select(LibraryAnswer).where(LibraryAnswer.answer_id == entry.answer_id)
        ).first()
        if held is not None:
            entry = held
    entry.answer, entry.compliance = requirement.answer, requirement.compliance
    entry.last_reviewed, entry.updated_by, entry.updated_at = today, editor, now
    session.add(entry)
    return entry.answer_id
