"""On hold, not gone: a bid the customer postpones keeps everything in it.

`bid hold OPP --reason ... --until DATE` marks the bid on hold: it keeps its state, sites,
quotes, answers and approvals, moves nowhere (`advance` waits, every move but a withdrawal
is refused), its open milestones leave the deadline watch, and its open quote requests are
cancelled — each carrier's contact told once through the outbox (`sourcing.cancel_requests`).
`bid resume OPP` takes it off hold in the state it was in: its open milestones move later by
the time it was held, and it is carried on. `bid withdraw` stays for bids that end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import col, select

from orchestrator.bid.facts import get_opportunity, held_message, refuse_when_held
from orchestrator.bid.producing.sourcing import cancel_requests
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, carry_on, refusals_kept
from orchestrator.context import Context
from orchestrator.errors import InputError, TransitionRefused
from orchestrator.intake.limits import free_text
from orchestrator.intake.opportunity import MAX_YEARS_AHEAD
from orchestrator.lifecycle.table import ENDS
from orchestrator.store.db import transaction
from orchestrator.store.models import Milestone, MilestoneStatus

__all__ = ["HoldResult", "held_message", "hold_bid", "refuse_when_held", "resume_bid"]


@dataclass(frozen=True)
class HoldResult:
    """What `bid hold` or `bid resume` did."""

    ref: str
    state: str
    on_hold: bool
    reason: str | None
    until: date | None
    cancelled_requests: tuple[str, ...] = ()
    moved_milestones: int = 0
    message: str = ""


def _until(ctx: Context, day: date) -> date:
    today = ctx.clock().date()
    if day <= today:
        raise InputError(
            f"{day.isoformat()} is not after today ({today.isoformat()})", field="until"
        )
    if day > today + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise InputError(
            f"{day.isoformat()} is more than {MAX_YEARS_AHEAD} years ahead", field="until"
        )
    return day


def hold_bid(ctx: Context, ref: str, *, reason: str, until: date, by: str) -> HoldResult:
    """Put an open bid on hold until `until`, keeping everything in it; its open QRFs are
    cancelled with a message to each carrier."""
    reason = free_text(reason, "reason", newlines=True)
    until = _until(ctx, until)
    with refusals_kept(ctx, ref, "hold", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        if opportunity.state in ENDS:
            raise TransitionRefused(
                f"{opportunity.ref} is {opportunity.state.value}: a closed bid is not held"
            )
        refuse_when_held(opportunity)
        opportunity.held_at = ctx.clock()
        opportunity.hold_reason, opportunity.hold_until = reason, until
        session.add(opportunity)
        cancelled = cancel_requests(
            session, ctx, opportunity, f"the bid is on hold: {reason}", held_until=until, held=True
        )
        audit(
            session,
            ctx,
            opportunity,
            "bid_held",
            actor=by,
            reason=reason,
            inputs={
                "until": until.isoformat(),
                "state": opportunity.state.value,
                "cancelled_requests": cancelled,
            },
        )
        return HoldResult(
            opportunity.ref,
            opportunity.state.value,
            True,
            reason,
            until,
            tuple(cancelled),
            message=f"on hold until {until.isoformat()} in {opportunity.state.value}; "
            f"{len(cancelled)} quote request(s) cancelled",
        )


def resume_bid(ctx: Context, ref: str, *, by: str) -> HoldResult:
    """Take a bid off hold in the state it was in: open milestones move later by the time it
    was held (the deadline watch picks them up again), and the bid is carried on."""
    with refusals_kept(ctx, ref, "resume", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        if opportunity.held_at is None:
            raise TransitionRefused(f"{opportunity.ref} is not on hold")
        now = ctx.clock()
        held_at = opportunity.held_at
        if held_at.tzinfo is None and now.tzinfo is not None:
            held_at = held_at.replace(tzinfo=now.tzinfo)
        paused = max(now - held_at, timedelta(0))
        moved = 0
        for milestone in session.exec(
            select(Milestone)
            .where(Milestone.opportunity_id == opportunity.id)
            .where(col(Milestone.status) == MilestoneStatus.OPEN)
        ).all():
            milestone.due_at = milestone.due_at + paused
            session.add(milestone)
            moved += 1
        reason, until = opportunity.hold_reason, opportunity.hold_until
        opportunity.held_at = None
        opportunity.hold_reason = opportunity.hold_until = None
        session.add(opportunity)
        audit(
            session,
            ctx,
            opportunity,
            "bid_resumed",
            actor=by,
            reason=reason,
            inputs={
                "state": opportunity.state.value,
                "held_days": paused.days,
                "milestones_moved": moved,
            },
        )
        carry_on(session, ctx, opportunity, actor=by, cause=f"resume:{_stamp(now)}")
        return HoldResult(
            opportunity.ref,
            opportunity.state.value,
            False,
            reason,
            until,
            moved_milestones=moved,
            message=f"resumed in {opportunity.state.value} after {paused.days} day(s) on hold; "
            f"{moved} open milestone(s) moved",
        )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")
