"""The one path for every change to a bid: advance, decide, approve, record_result, withdraw.

Each service call loads the bid, evaluates the decision tables that apply, fires the trigger
on the state machine, and commits the new state, its audit event, the decision record and the
notifications (outbox rows) in ONE database transaction. The CLI, Slack and Prefect flows are
doors into these functions; none of them writes a bid's state itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

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
from orchestrator.bid.governance import approve
from orchestrator.bid.people import check_actor
from orchestrator.bid.qualification import decide, set_strategy
from orchestrator.bid.recording import (
    check_category,
    move_bid,
    put_account_to_sleep,
    recipients,
    record_documents,
    refusals_kept,
    routing_for,
)
from orchestrator.bid.rendering import SETS
from orchestrator.bid.steps import ON_ENTRY, STEP_WORK, Render
from orchestrator.context import Context
from orchestrator.errors import (
    BidError,
    InputError,
    TransitionRefused,
)
from orchestrator.lifecycle.table import ENDS, WAITING_FOR, automatic_transition
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Account


def _produce(ctx: Context, ref: str, render: Render) -> ProducedDocuments:
    """Render in a read-only session, outside any write transaction (idempotent files)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        canonical = opportunity.ref
        out_dir = ctx.output_dir_for(canonical)
        produced = SETS[render.value](ctx.documents, session, opportunity, out_dir)
    return ctx.store.publish(canonical, produced)


def advance(ctx: Context, ref: str, actor: str = "system") -> StepResult:
    """Do the current step's automated work and move on when its guards allow.

    Stops (without error) where the bid waits for a person: go/no-go, approvals, the
    customer's verdict. A guard that refuses raises `TransitionRefused` naming it.
    """
    with refusals_kept(ctx, ref, "advance", actor), reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        state = opportunity.state
        check_actor(session, opportunity, actor)
        if state in ENDS:
            return StepResult(ref, state, state, f"the bid is closed ({state.value})")
        step = STEP_WORK[state]
        waiting = step.ready(session, ctx, opportunity) if step.ready else None
        if waiting is not None:
            return waiting
    produced = _produce(ctx, ref, step.renders) if step.renders else ProducedDocuments()

    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        if opportunity.state != state:  # another run moved it meanwhile
            now = opportunity.state
            return StepResult(opportunity.ref, now, now, f"already moved on to {now.value}")
        record_documents(session, opportunity, produced)
        outcome = step.work(session, ctx, opportunity, produced)
        if isinstance(outcome, StepResult):
            return outcome
        transition = automatic_transition(state)
        if transition is None:  # pragma: no cover - a test checks the table against STEP_WORK
            raise TransitionRefused(f"{state.value} has no automatic step")
        move_bid(
            session,
            ctx,
            opportunity,
            transition.trigger,
            actor=actor,
            inputs=outcome.inputs,
            order_sheet_problems=tuple(produced.problems),
            production_open=outcome.production_open,
        )
        enter = ON_ENTRY.get(opportunity.state)
        if enter is not None:
            enter(session, ctx, opportunity, actor)
        return StepResult(
            opportunity.ref,
            state,
            opportunity.state,
            f"{state.value} → {opportunity.state.value}",
            WAITING_FOR.get(opportunity.state),
            [d.location for d in produced.documents],
        )


def record_result(
    ctx: Context,
    ref: str,
    *,
    won: bool,
    reason: str,
    by: str = "system",
    category: str | None = None,
    competitor: str | None = None,
    competitor_contract_end: date | None = None,
) -> StepResult:
    """The customer's verdict at the decision step: won goes to contract preparation. A loss
    may name who won and when their contract ends: the account then sleeps until it is time
    to bid again (`bid.accounts.learn_competitor`), in the same transaction."""
    from orchestrator.bid.accounts import check_competitor, learn_competitor

    learned: tuple[str, date] | None = None
    if (competitor is None) != (competitor_contract_end is None):
        raise InputError("give the competitor and its contract end together", field="competitor")
    if competitor is not None and competitor_contract_end is not None:
        if won:
            raise InputError("a won bid has no competitor to record", field="competitor")
        learned = check_competitor(ctx, competitor, competitor_contract_end)
    with refusals_kept(ctx, ref, "win" if won else "lose", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
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
        if learned is not None and competitor_contract_end is not None:
            account = session.get(Account, opportunity.account_id)
            assert account is not None
            learn_competitor(
                session,
                ctx,
                account,
                competitor=learned[0],
                contract_end=competitor_contract_end,
                wakes_on=learned[1],
                actor=by,
                reason=f"learned when {opportunity.ref} was lost",
            )
        return StepResult(
            opportunity.ref, event.from_state or opportunity.state, opportunity.state, "recorded"
        )


def withdraw(
    ctx: Context, ref: str, *, reason: str, by: str = "system", category: str | None = None
) -> StepResult:
    with refusals_kept(ctx, ref, "withdraw", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        check_category(ctx, category)
        opportunity.result_reason, opportunity.result_category = reason, category
        event = move_bid(session, ctx, opportunity, "withdraw", actor=by, reason=reason)
        return StepResult(
            opportunity.ref, event.from_state or opportunity.state, opportunity.state, "withdrawn"
        )


def run_until_waiting(step: Callable[[], StepResult], limit: int = 20) -> list[StepResult]:
    """Take steps until the bid waits for a person, is closed, or a guard refuses.

    A refusal at the first step is raised; after at least one step it ends the run quietly
    (the bid stays where the refusing guard holds it). The flows' `bid_lifecycle` and
    `run_to_wait` both go through this one loop.
    """
    results: list[StepResult] = []
    for _ in range(limit):
        try:
            result = step()
        except BidError:
            if results:
                break
            raise
        results.append(result)
        if not result.moved:
            break
    return results


def run_to_wait(ctx: Context, ref: str, actor: str = "system", limit: int = 20) -> list[StepResult]:
    """Advance step after step in this process until the bid waits for a person."""
    return run_until_waiting(lambda: advance(ctx, ref, actor), limit)


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
    "run_until_waiting",
    "set_strategy",
    "team",
    "withdraw",
]
