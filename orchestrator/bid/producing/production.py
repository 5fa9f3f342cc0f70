"""Bid production waits for its work: the exit criteria, and freezing the solution design.

Freezing the design records the bid version of the deal it froze (`bid.versions`): the
priced deal with a number, which governance approves and the customer receives.

The criteria are rows of `rules/production_exit.yaml` (per account tier); each names a
measure counted here from the bid's deal (`bid.deal`), its quote requests and its design
freeze. `bid advance` keeps the bid in production while any is open and names every open one
with its counts; the `request_governance` transition's guard refuses while any is open.
"""

from __future__ import annotations

from sqlmodel import Session, select

from orchestrator.bid.facts import StepResult, account_of, get_opportunity, get_person, holds_role
from orchestrator.bid.measures.deal import Deal, load_deal
from orchestrator.bid.measures.exit_criteria import DESIGN_MILESTONE, exit_check, latest_freeze
from orchestrator.bid.measures.intake_tasks import exception_count, open_summary
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, complete_milestones, refusals_kept
from orchestrator.bid.trail.versions import record_version
from orchestrator.context import Context
from orchestrator.decisions.production_rules import load_exit_rules
from orchestrator.errors import DesignFreezeRefused
from orchestrator.lifecycle.table import State
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    DesignFreeze,
    Milestone,
    MilestoneStatus,
    Opportunity,
)


def freeze_design(ctx: Context, ref: str, *, by: str, note: str | None = None) -> StepResult:
    """Freeze the solution design at its current content, as a new version.

    Only in bid production, only by someone who may (rules/production_exit.yaml:
    design_freeze.roles, per tier), and only once no intake exception waits for a person
    (`bid.intake_tasks`). Freezing what is already frozen records nothing.
    """
    with refusals_kept(ctx, ref, "freeze", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        state = opportunity.state
        if state != State.BID_PRODUCTION:
            raise DesignFreezeRefused(
                f"{opportunity.ref} is in {state.value}: the design is frozen in bid production"
            )
        person = get_person(session, by)
        tier = account_of(session, opportunity).tier
        roles = list(load_exit_rules(ctx.settings.rules_dir).roles_to_freeze(tier))
        if not holds_role(session, opportunity, person, roles):
            raise DesignFreezeRefused(
                f"{person.email} may not freeze the design of {opportunity.ref}; "
                f"it needs one of: {', '.join(roles)}"
            )
        waiting = exception_count(session, opportunity)
        if waiting.open:
            raise DesignFreezeRefused(
                f"{len(waiting.open):,} intake exception(s) of {opportunity.ref} wait for a "
                f"person: {open_summary(waiting)} (bid design propose, bid quotes "
                "accept|requote)"
            )
        deal = load_deal(session, ctx, opportunity)
        _check_freeze_requires(session, ctx, opportunity, deal)
        last = latest_freeze(session, opportunity)
        if opportunity.design_frozen and last is not None and last.fingerprint == deal.fingerprint:
            return StepResult(
                opportunity.ref,
                state,
                state,
                f"design version {last.version} is already frozen; nothing recorded",
                recorded=False,
            )
        version = opportunity.design_version + 1
        now = ctx.clock()
        session.add(
            DesignFreeze(
                opportunity_id=opportunity.id or 0,
                version=version,
                frozen_by=person.email,
                note=note,
                fingerprint=deal.fingerprint,
                frozen_at=now,
            )
        )
        opportunity.design_version, opportunity.design_frozen = version, True
        session.add(opportunity)
        audit(
            session,
            ctx,
            opportunity,
            "design_frozen",
            actor=person.email,
            reason=note,
            inputs={"version": version, "fingerprint": deal.fingerprint},
        )
        bid_version = record_version(
            session, ctx, opportunity, reason="design_freeze", actor=person.email, deal=deal
        )
        complete_milestones(session, ctx, opportunity, [DESIGN_MILESTONE])
        check = exit_check(session, ctx, opportunity, deal)
        still = f"; still open: {check.summary}" if check.open else ""
        return StepResult(
            opportunity.ref,
            state,
            state,
            f"design version {version} frozen by {person.email} "
            f"(bid version {bid_version.number}){still}",
        )


def _check_freeze_requires(
    session: Session, ctx: Context, opportunity: Opportunity, deal: Deal
) -> None:
    """Refuse the freeze while a criterion rules/production_exit.yaml `design_freeze.requires`
    names is open (the mandatory requirements' answers reviewed, by default)."""
    required = load_exit_rules(ctx.settings.rules_dir).freeze_requires
    if not required:
        return
    check = exit_check(session, ctx, opportunity, deal)
    still = [c for c in check.open if c.id in required]
    if still:
        raise DesignFreezeRefused(
            f"{opportunity.ref}: the design cannot be frozen yet: "
            + "; ".join(c.text for c in still)
        )


def thaw_design(
    session: Session, ctx: Context, opportunity: Opportunity, *, actor: str, reason: str
) -> bool:
    """A change reopens the frozen design (in the caller's transaction); False if not frozen."""
    if not opportunity.design_frozen:
        return False
    now = ctx.clock()
    last = latest_freeze(session, opportunity)
    if last is not None:
        last.thawed_at, last.thaw_reason = now, reason
        session.add(last)
    opportunity.design_frozen = False
    session.add(opportunity)
    for milestone in session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id, Milestone.name == DESIGN_MILESTONE
        )
    ).all():
        milestone.status, milestone.completed_at = MilestoneStatus.OPEN, None
        session.add(milestone)
    audit(
        session,
        ctx,
        opportunity,
        "design_unfrozen",
        actor=actor,
        reason=reason,
        inputs={"version": opportunity.design_version},
    )
    return True
