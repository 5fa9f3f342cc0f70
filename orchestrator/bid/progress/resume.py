"""Bids that should move on but do not: automated work due, and no move for a while.

Carrying a bid on after an answer is a `carry` effect committed with the answer; the
dispatcher runs it and retries it when it fails (`orchestrator.dispatch.drain`; `bid resume`
retries the failed ones at once, the `effects-drain` deployment every 5 minutes). So a lost
carry-on is not found by looking at bids any more; `stalled` remains for an operator's
question "which bids have automated work due and sit idle?" (say, a carry handed to task
workers that were then killed), and `bid resume OPP-…` hands such a bid over again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, func, select

from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.bid.progress.deadlines import as_utc
from orchestrator.bid.progress.steps import STEP_WORK
from orchestrator.context import Context
from orchestrator.lifecycle.table import ENDS, State, automatic_transition
from orchestrator.store.db import reading
from orchestrator.store.models import AuditEvent, Opportunity, format_ref

IDLE_BEFORE_RESUME = timedelta(seconds=60)
"""How long a bid sits with work to do before it counts as stalled (in-flight work finishes
well within this)."""


def stalled(ctx: Context, idle_for: timedelta = IDLE_BEFORE_RESUME) -> list[str]:
    """The open bids whose automated work is due and that have not moved for `idle_for`."""
    now = ctx.clock()
    automated = [s for s in State if s not in ENDS and automatic_transition(s) is not None]
    found: list[str] = []
    with reading(ctx.engine) as session:
        last_move = (
            select(AuditEvent.opportunity_id, func.max(AuditEvent.at).label("last"))
            .group_by(col(AuditEvent.opportunity_id))
            .subquery()
        )
        rows = session.exec(
            select(Opportunity, last_move.c.last)
            .join(last_move, last_move.c.opportunity_id == Opportunity.id)
            .where(col(Opportunity.state).in_(automated))
            .order_by(col(Opportunity.id))
        ).all()
        for opportunity, last in rows:
            if last is not None and as_utc(last) > now - idle_for:
                continue  # it moved recently: its work may still be under way
            step = STEP_WORK[opportunity.state]
            if step.ready is not None and step.ready(session, ctx, opportunity) is not None:
                continue  # waits for people's work (bid production's criteria)
            if opportunity.state == State.GOVERNANCE_REVIEW:
                facts = load_facts(session, ctx, opportunity)
                if not facts.required_areas or set(facts.required_areas) - facts.granted_areas:
                    continue  # waits for approvers
            found.append(format_ref(opportunity.id))
    return found
