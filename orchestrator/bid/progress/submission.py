"""Submission is a step people take: the offer goes out when someone sends it.

The last approval leaves a bid waiting in `submission` with its package rendered; `bid
submit` records how (portal, e-mail, by hand), when (`--at`, default now) and by whom the
offer went to the customer, with the customer's receipt or reference. That marks the
version sent (its files kept in `v<N>/`), moves the bid to `customer_decision` and starts
the customer-decision clock at the moment it was sent (rules/milestones.yaml, planned at
`submission` from `submitted`). Before the last approval it is refused, naming what is
missing; nothing changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from orchestrator.bid.facts import StepResult, get_opportunity, refuse_when_held
from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.bid.progress.services import produce
from orchestrator.bid.progress.steps import Render
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import (
    complete_milestones,
    move_bid,
    plan_milestones,
    record_documents,
    refusals_kept,
)
from orchestrator.bid.trail.versions import submit_version
from orchestrator.context import Context
from orchestrator.errors import InputError, TransitionRefused
from orchestrator.intake.limits import free_text
from orchestrator.lifecycle.table import WAITING_FOR, State
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Opportunity

CHANNELS = ("portal", "email", "hand")
"""How an offer reaches the customer."""
SUBMISSION_STAGE = "submission"
"""The milestones planned when the offer goes out (rules/milestones.yaml `planned_at`)."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future `--at` may be (clocks differ a little), no more."""


def check_channel(channel: str) -> str:
    """The channel, or a one-line refusal listing the choices."""
    value = channel.strip().lower()
    if value not in CHANNELS:
        raise InputError(
            f"'{channel}' is not a channel: choose {', '.join(CHANNELS)}", field="channel"
        )
    return value


def _check_submittable(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    refuse_when_held(opportunity)
    state = opportunity.state
    if state == State.GOVERNANCE_REVIEW:
        facts = load_facts(session, ctx, opportunity)
        missing = sorted(set(facts.required_areas) - facts.granted_areas)
        raise TransitionRefused(
            f"{opportunity.ref} waits for its approvals ({', '.join(missing) or 'none asked'}): "
            "bid submit comes after the last one"
        )
    if state != State.SUBMISSION:
        raise TransitionRefused(
            f"{opportunity.ref} is {state.value}: only a bid in submission (every approval "
            "given) is submitted"
        )


def _sent_at(ctx: Context, at: datetime | None) -> datetime:
    now = ctx.clock()
    if at is None:
        return now
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if moment > now + CLOCK_SKEW:
        raise InputError(f"{moment.isoformat()} is in the future", field="at")
    return moment


def submit_offer(
    ctx: Context,
    ref: str,
    *,
    by: str,
    channel: str,
    reference: str,
    at: datetime | None = None,
) -> StepResult:
    """Record that the offer went out (how, when, by whom, the customer's reference) and move
    the bid to the customer's decision, whose clock starts at `at`."""
    channel = check_channel(channel)
    reference = free_text(reference, "reference")
    sent_at = _sent_at(ctx, at)
    with refusals_kept(ctx, ref, "submit", by), reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        check_actor(session, opportunity, by)
        _check_submittable(session, ctx, opportunity)
        received = opportunity.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        if sent_at < received:
            raise InputError(f"{sent_at.isoformat()} is before the bid was received", field="at")
    produced = produce(ctx, ref, Render.SUBMISSION)
    with refusals_kept(ctx, ref, "submit", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        _check_submittable(session, ctx, opportunity)
        source = opportunity.state
        record_documents(session, opportunity, produced)
        version = submit_version(session, ctx, opportunity, produced, actor=by, at=sent_at)
        complete_milestones(session, ctx, opportunity, ["submission"])
        opportunity.submitted_at = sent_at
        opportunity.submitted_by = by
        opportunity.submission_channel = channel
        opportunity.submission_reference = reference
        move_bid(
            session,
            ctx,
            opportunity,
            "submit",
            actor=by,
            reason=f"sent by {channel}: {reference}",
            inputs={
                "by": by,
                "channel": channel,
                "reference": reference,
                "at": sent_at.isoformat(),
                "version": version.number,
            },
        )
        plan_milestones(session, ctx, opportunity, SUBMISSION_STAGE, sent_at)
        return StepResult(
            opportunity.ref,
            source,
            opportunity.state,
            f"version {version.number} sent by {channel} on {sent_at:%Y-%m-%d %H:%M} "
            f"({reference}); the customer's decision is awaited",
            WAITING_FOR.get(opportunity.state),
            [d.location for d in produced.documents],
        )
