"""The qualification gate: BANTS, the go/no-go recommendation, and the human decision."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from orchestrator.bid.facts import (
    GO_NO_GO_TRIGGERS,
    StepResult,
    account_of,
    get_opportunity,
    get_person,
    holds_role,
    latest_decision,
    team,
    to_eur,
)
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import (
    audit,
    audit_refusal,
    carry_on,
    check_category,
    complete_milestones,
    move_bid,
    put_account_to_sleep,
    recipients,
    record_decision,
    refusals_kept,
    routing_for,
)
from orchestrator.context import Context
from orchestrator.errors import (
    DecisionRefused,
    InputError,
    TransitionRefused,
)
from orchestrator.intake.limits import free_text
from orchestrator.lifecycle.table import ENDS, OPEN_STATES, WAITING_FOR, State
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    AuditEvent,
    Opportunity,
    Role,
    TeamMember,
)

# --- decision inputs ----------------------------------------------------------------------------


def bants_decision(ctx: Context, session: Session, opportunity: Opportunity) -> Any:
    from orchestrator.decisions.engine import qualify_lead

    bants = opportunity.bants
    return qualify_lead(
        ctx.rules,
        tier=account_of(session, opportunity).tier,
        budget_eur=float(bants["budget_eur"]),
        authority=str(bants["authority"]),
        need=str(bants["need"]),
        timeframe_months=int(bants["timeframe_months"]),
        sales_ready=bool(bants["sales_ready"]),
    )


def _open_bids_per_bid_manager(session: Session, opportunity: Opportunity) -> int:
    """How many open bids the bid manager of this bid carries (capacity for go/no-go)."""
    if opportunity.id is None:  # rows read from the database always have one
        raise ValueError("the opportunity is not stored")
    managers = [p.id for role, p in team(session, opportunity.id) if role == Role.BID_MANAGER]
    if not managers:
        return 0
    busy = [s.value for s in OPEN_STATES if s != State.PRE_QUALIFICATION]
    count = session.exec(
        select(func.count(func.distinct(TeamMember.opportunity_id)))
        .where(TeamMember.role == Role.BID_MANAGER, col(TeamMember.person_id).in_(managers))
        .where(TeamMember.opportunity_id == Opportunity.id)
        .where(col(Opportunity.state).in_(busy))
        .where(Opportunity.id != opportunity.id)
    ).one()
    return int(count)


def _bants_result(session: Session, ctx: Context, opportunity: Opportunity) -> str:
    if opportunity.id is None:  # rows read from the database always have one
        raise ValueError("the opportunity is not stored")
    record = latest_decision(session, opportunity.id, "bants")
    if record is None:
        decision = bants_decision(ctx, session, opportunity)
        return str(decision.outputs["result"])
    return str(record.outputs["result"])


def go_no_go_recommendation(ctx: Context, session: Session, opportunity: Opportunity) -> Any:
    from orchestrator.decisions.engine import go_no_go

    return go_no_go(
        ctx.rules,
        bants_result=_bants_result(session, ctx, opportunity),
        tier=account_of(session, opportunity).tier,
        revenue_eur=to_eur(ctx, opportunity.total_revenue, opportunity.currency),
        days_to_deadline=(opportunity.submission_deadline - ctx.clock().date()).days,
        open_bids_per_bid_manager=_open_bids_per_bid_manager(session, opportunity),
        strategic_fit=opportunity.strategic_fit,
        incumbent=opportunity.incumbent,
    )


def _jsonable(value: Any) -> Any:
    """JSON columns store floats and strings; compare like with like."""
    return json.loads(json.dumps(value, default=str))


def await_go_no_go(session: Session, ctx: Context, opportunity: Opportunity) -> StepResult:
    """Record the rules' recommendation once per qualification round and ask the deciders."""
    decision = go_no_go_recommendation(ctx, session, opportunity)
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.opportunity_id == opportunity.id)
        .order_by(col(AuditEvent.id).desc())
    ).all()
    entered = next(
        (e for e in events if e.to_state == State.QUALIFICATION and e.from_state != e.to_state),
        None,
    )
    asked = next((e for e in events if e.trigger == "go_no_go_requested"), None)
    version = {"rule_hash": decision.rule_hash, "inputs": dict(decision.inputs)}
    fresh = (
        asked is None
        or (entered is not None and (asked.id or 0) < (entered.id or 0))
        or asked.inputs.get("version") != version
    )
    if fresh:
        record_decision(session, opportunity, decision)
        audit(
            session,
            ctx,
            opportunity,
            "go_no_go_requested",
            actor="rules",
            reason=str(decision.outputs.get("reason", "")),
            inputs={
                "recommendation": decision.outputs["recommendation"],
                "version": _jsonable(version),
            },
        )
        account = account_of(session, opportunity)
        route = routing_for(ctx, account.tier, State.QUALIFICATION.value)
        text = ctx.messages.render(
            "go_no_go_requested",
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            recommendation=decision.outputs["recommendation"],
            rule_reason=decision.outputs.get("reason"),
        )
        for person in recipients(session, opportunity, list(route.get("decider_roles", []))):
            outbox.enqueue(
                session,
                key=f"go_no_go:{opportunity.id}:{entered.id if entered else 0}:{person.email}",
                event="go_no_go_requested",
                text=text,
                opportunity_id=opportunity.id,
                recipient_email=person.email,
                blocks=[{"type": "go_no_go", "opportunity": opportunity.ref}],
            )
    return StepResult(
        opportunity.ref,
        State.QUALIFICATION,
        State.QUALIFICATION,
        f"recommendation: {decision.outputs['recommendation']} "
        f"({decision.outputs.get('reason', '')})",
        WAITING_FOR[State.QUALIFICATION],
    )


# --- human decisions ------------------------------------------------------------------------


def decide(
    ctx: Context,
    ref: str,
    *,
    outcome: str,
    by: str,
    reason: str,
    category: str | None = None,
) -> StepResult:
    """Record a person's go/no-go beside the rules' recommendation and move the bid."""
    reason = free_text(reason, "reason", required=False, newlines=True)
    if outcome not in GO_NO_GO_TRIGGERS:
        raise InputError(f"outcome must be one of {', '.join(GO_NO_GO_TRIGGERS)}", field="outcome")
    try:
        with transaction(ctx.engine) as session:
            opportunity = get_opportunity(session, ref, lock=True)
            if opportunity.state != State.QUALIFICATION:
                raise TransitionRefused(
                    f"{opportunity.ref} is in {opportunity.state}; "
                    "go/no-go is taken in qualification"
                )
            person = get_person(session, by)
            account = account_of(session, opportunity)
            deciders = list(routing_for(ctx, account.tier, opportunity.state)["decider_roles"])
            if not holds_role(session, opportunity, person, deciders):
                raise DecisionRefused(
                    f"{person.email} may not take the go/no-go on {opportunity.ref}; "
                    f"it needs one of: {', '.join(deciders)}"
                )
            decision = go_no_go_recommendation(ctx, session, opportunity)
            if decision.outputs.get("hard") and outcome != decision.outputs["recommendation"]:
                raise DecisionRefused(
                    f"rule {decision.outputs.get('rule', '?')} forbids overriding "
                    f"'{decision.outputs['recommendation']}': {decision.outputs.get('reason', '')}"
                )
            if outcome == "redefine_strategy":
                opportunity.strategy_reworked = False
            if outcome == "no_bid":
                category = check_category(ctx, category, needed_for="a no-bid (--category)")
                opportunity.result_category, opportunity.result_reason = category, reason
                put_account_to_sleep(session, ctx, opportunity)
            record_decision(
                session,
                opportunity,
                decision,
                decided_by=person,
                human_outcome=outcome,
                reason=reason,
            )
            event = move_bid(
                session,
                ctx,
                opportunity,
                GO_NO_GO_TRIGGERS[outcome],
                actor=person.email,
                reason=reason,
                inputs={
                    "recommendation": decision.outputs["recommendation"],
                    "outcome": outcome,
                    "overridden": outcome != decision.outputs["recommendation"],
                },
            )
            complete_milestones(session, ctx, opportunity, ["go_no_go_decision"])
            if outcome == "bid":  # kick-off's work can start
                carry_on(session, ctx, opportunity, actor=person.email, cause="go_no_go")
            return StepResult(
                opportunity.ref,
                event.from_state or opportunity.state,
                opportunity.state,
                f"{outcome} decided by {person.email} (rules recommended "
                f"{decision.outputs['recommendation']})",
            )
    except (DecisionRefused, TransitionRefused) as refusal:
        audit_refusal(ctx, ref, "decide", by, str(refusal))
        raise


def set_strategy(ctx: Context, ref: str, *, text: str, by: str) -> StepResult:
    """Record a (reworked) bid strategy; after *redefine strategy* the bid is decided again."""
    if not text.strip():
        raise InputError("the strategy text is empty", field="strategy")
    with refusals_kept(ctx, ref, "strategy", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        if opportunity.state in ENDS:
            raise TransitionRefused(f"{opportunity.ref} is closed ({opportunity.state})")
        person = get_person(session, by)
        check_actor(session, opportunity, person.email)
        opportunity.strategy = text.strip()
        if opportunity.state == State.STRATEGY_REWORK:
            opportunity.strategy_reworked = True
        session.add(opportunity)
        audit(session, ctx, opportunity, "strategy_set", actor=person.email, reason=text.strip())
        state = opportunity.state
        return StepResult(opportunity.ref, state, state, "strategy recorded")
