"""The one path for every change to a bid: advance, decide, approve, record_result, withdraw.

Each service call loads the bid, evaluates the decision tables that apply, fires the trigger
on the state machine, and commits the new state, its audit event, the decision record and the
notifications (outbox rows) in ONE database transaction. The CLI, Slack and Prefect flows are
doors into these functions; none of them writes a bid's state itself.
"""

from __future__ import annotations

from typing import Any

from orchestrator.bid.facts import (
    StepResult,
    account_of,
    current_approvals,
    get_opportunity,
    get_person,
    holds_role,
    latest_decision,
    load_facts,
    parse_ref,
    team,
)
from orchestrator.bid.governance import (
    approve,
    request_governance,
)
from orchestrator.bid.qualification import (
    await_go_no_go,
    bants_decision,
    decide,
    set_strategy,
)
from orchestrator.bid.recording import (
    check_category,
    complete_milestones,
    move_bid,
    plan_milestones,
    put_account_to_sleep,
    recipients,
    record_decision,
    record_documents,
    routing_for,
)
from orchestrator.context import Context
from orchestrator.errors import (
    BidError,
    TransitionRefused,
)
from orchestrator.lifecycle.table import ENDS, WAITING_FOR, State, automatic_transition
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import transaction


def _produce(ctx: Context, ref: str, kind: str) -> ProducedDocuments:
    """Render outside the database transaction (files are idempotent by content hash)."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        out_dir = ctx.output_dir_for(opportunity.ref)
        if kind == "bid":
            return ctx.documents.bid_documents(session, opportunity, out_dir)
        if kind == "submission":
            return ctx.documents.submission_package(session, opportunity, out_dir)
        return ctx.documents.order_sheet(session, opportunity, out_dir)


def advance(ctx: Context, ref: str, actor: str = "system") -> StepResult:
    """Do the current step's automated work and move on when its guards allow.

    Stops (without error) where the bid waits for a person: go/no-go, approvals, the
    customer's verdict. A guard that refuses raises `TransitionRefused` naming it.
    """
    with transaction(ctx.engine) as session:
        state = State(get_opportunity(session, ref).state)
    if state in ENDS:
        return StepResult(ref, state, state, f"the bid is closed ({state.value})")
    produced = ProducedDocuments()
    if state == State.BID_PRODUCTION:
        produced = _produce(ctx, ref, "bid")
    elif state == State.SUBMISSION:
        produced = _produce(ctx, ref, "submission")
    elif state == State.CONTRACT_PREPARATION:
        produced = _produce(ctx, ref, "order")

    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        if State(opportunity.state) != state:  # another run moved it meanwhile
            now = State(opportunity.state)
            return StepResult(opportunity.ref, now, now, f"already moved on to {now.value}")
        record_documents(session, opportunity, produced)
        inputs: dict[str, Any] = {}
        if state == State.PRE_QUALIFICATION:
            facts = load_facts(session, ctx, opportunity)
            from orchestrator.lifecycle.guards import bants_complete

            if bants_complete(facts).ok:
                decision = bants_decision(ctx, session, opportunity)
                record_decision(session, opportunity, decision)
                inputs = {"bants": decision.outputs}
                plan_milestones(session, ctx, opportunity, "intake", opportunity.received_at)
        elif state == State.QUALIFICATION:
            return await_go_no_go(session, ctx, opportunity)
        elif state == State.KICK_OFF:
            plan_milestones(session, ctx, opportunity, "kick_off", ctx.clock())
        elif state == State.BID_PRODUCTION:
            opportunity.proposal_hash = produced.proposal_hash
            inputs = {"proposal_hash": produced.proposal_hash}
            complete_milestones(session, ctx, opportunity, ["design_freeze"])
        elif state == State.GOVERNANCE_REVIEW:
            complete = load_facts(session, ctx, opportunity)
            if set(complete.required_areas) - complete.granted_areas or not complete.required_areas:
                missing = sorted(set(complete.required_areas) - complete.granted_areas)
                return StepResult(
                    opportunity.ref,
                    state,
                    state,
                    f"waiting for approvals: {', '.join(missing) or 'none requested'}",
                    WAITING_FOR[state],
                )
            complete_milestones(session, ctx, opportunity, ["governance_approvals"])
        elif state == State.CUSTOMER_DECISION:
            return StepResult(
                opportunity.ref, state, state, "waiting for the customer", WAITING_FOR[state]
            )
        elif state == State.SUBMISSION:
            complete_milestones(session, ctx, opportunity, ["submission"])

        transition = automatic_transition(state)
        if transition is None:  # pragma: no cover - every open state is handled above
            raise TransitionRefused(f"{state.value} has no automatic step")
        move_bid(
            session,
            ctx,
            opportunity,
            transition.trigger,
            actor=actor,
            inputs=inputs,
            order_sheet_problems=tuple(produced.problems),
        )
        if opportunity.state == State.GOVERNANCE_REVIEW:
            request_governance(session, ctx, opportunity, actor)
        if opportunity.state == State.QUALIFICATION:
            await_go_no_go(session, ctx, opportunity)
        return StepResult(
            opportunity.ref,
            state,
            State(opportunity.state),
            f"{state.value} → {opportunity.state}",
            WAITING_FOR.get(State(opportunity.state)),
            [str(d.path) for d in produced.documents],
        )


def record_result(
    ctx: Context,
    ref: str,
    *,
    won: bool,
    reason: str,
    by: str = "system",
    category: str | None = None,
) -> StepResult:
    """The customer's verdict at the decision step: won goes to contract preparation."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        if not won:
            check_category(ctx, category)
        opportunity.result_reason, opportunity.result_category = reason, category
        event = move_bid(
            session,
            ctx,
            opportunity,
            "win" if won else "lose",
            actor=by,
            reason=reason,
            inputs={"category": category},
        )
        if not won:
            put_account_to_sleep(session, ctx, opportunity)
        return StepResult(
            opportunity.ref, State(event.from_state or ""), State(opportunity.state), "recorded"
        )


def withdraw(
    ctx: Context, ref: str, *, reason: str, by: str = "system", category: str | None = None
) -> StepResult:
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_category(ctx, category)
        opportunity.result_reason, opportunity.result_category = reason, category
        event = move_bid(session, ctx, opportunity, "withdraw", actor=by, reason=reason)
        return StepResult(
            opportunity.ref, State(event.from_state or ""), State(opportunity.state), "withdrawn"
        )


def run_to_wait(ctx: Context, ref: str, actor: str = "system", limit: int = 20) -> list[StepResult]:
    """Advance step after step until the bid waits for a person, is closed, or a guard refuses."""
    results: list[StepResult] = []
    for _ in range(limit):
        try:
            result = advance(ctx, ref, actor)
        except BidError:
            if results:
                break
            raise
        results.append(result)
        if not result.moved:
            break
    return results


__all__ = [
    "StepResult",
    "account_of",
    "advance",
    "approve",
    "current_approvals",
    "decide",
    "get_opportunity",
    "get_person",
    "holds_role",
    "latest_decision",
    "load_facts",
    "parse_ref",
    "recipients",
    "record_result",
    "routing_for",
    "run_to_wait",
    "set_strategy",
    "team",
    "withdraw",
]
