"""The one path for every change to a bid: advance, decide, approve, record_result, withdraw
(the customer's decision and withdrawals live in `outcomes.py`, re-exported here).

Each service call loads the bid, evaluates the decision tables that apply, fires the trigger
on the state machine, and commits the new state, its audit event, the decision record, the
notifications (outbox rows) and the effects that follow (render the documents; carry the bid
on, decided here by the call whose answer unblocked it) in ONE database transaction. The
CLI, Slack and Prefect flows are doors into these functions; none of them writes a bid's
state itself, nor decides what follows it: they drain the effects (`orchestrator.dispatch`).
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.bid.approvals.governance import approve
from orchestrator.bid.closing.outcomes import record_result, request_bafo, shortlist, withdraw
from orchestrator.bid.facts import (
    StepResult,
    account_of,
    current_approvals,
    get_opportunity,
    get_person,
    held_message,
    holds_role,
    latest_decision,
    parse_ref,
    team,
)
from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.bid.opportunity.qualification import decide, set_strategy
from orchestrator.bid.progress.steps import ON_ENTRY, STEP_WORK, Render
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import (
    answer_of,
    move_bid,
    recipients,
    record_documents,
    refusals_kept,
    routing_for,
    system_acting,
)
from orchestrator.bid.trail.rendering import SETS, VERSIONED
from orchestrator.bid.trail.versions import rendering_version
from orchestrator.context import Context
from orchestrator.errors import (
    BidError,
    TransitionRefused,
)
from orchestrator.lifecycle.table import ENDS, WAITING_FOR, automatic_transition
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import reading, transaction


def produce(ctx: Context, ref: str, render: Render) -> ProducedDocuments:
    """Render in a read-only session, outside any write transaction (idempotent files),
    from the bid's version: its deal priced once for all the documents of the step."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        canonical = opportunity.ref
        out_dir = ctx.output_dir_for(canonical)
        versioned = render.value in VERSIONED
        version = rendering_version(session, ctx, opportunity) if versioned else None
        produced = SETS[render.value](ctx.documents, session, opportunity, out_dir, version)
    return ctx.store.publish(canonical, produced)


_produce = produce  # the earlier name, kept for callers of it


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
        if opportunity.held_at is not None:  # on hold: it waits for `bid resume`
            return StepResult(ref, state, state, held_message(opportunity), "bid resume")
        step = STEP_WORK[state]
        waiting = step.ready(session, ctx, opportunity) if step.ready else None
        if waiting is not None:
            return waiting
    produced = produce(ctx, ref, step.renders) if step.renders else ProducedDocuments()

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
        system, on_answer = system_acting(actor, answer_of(session, opportunity, actor))
        move_bid(
            session,
            ctx,
            opportunity,
            transition.trigger,
            actor=system,
            inputs={**outcome.inputs, **on_answer},
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
    "request_bafo",
    "routing_for",
    "run_to_wait",
    "run_until_waiting",
    "set_strategy",
    "shortlist",
    "team",
    "withdraw",
]
