"""Handlers of the moves of a bid through its life: advance, the go/no-go decision, the
approvals, the strategy, the customer's verdict and a withdrawal. Carrying a bid on after an
answer is an effect the service commits; `dispatch` runs it."""

from __future__ import annotations

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import caller, handles, moved
from orchestrator.runtime.runner import FlowRunner


@handles(c.Advance)
def _advance(ctx: Context, command: c.Advance, actor: str, runner: FlowRunner) -> c.Result:
    return moved(command.name, runner.advance_once(ctx, command.opportunity, actor))


@handles(c.Decide)
def _decide(ctx: Context, command: c.Decide, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.services import decide

    step = decide(
        ctx,
        command.opportunity,
        outcome=command.outcome,
        by=actor,
        reason=command.reason,
        category=command.category,
    )
    return moved(command.name, step)


@handles(c.Approve)
def _approve(ctx: Context, command: c.Approve, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.services import approve

    step = approve(
        ctx,
        command.opportunity,
        area=command.area,
        by=actor,
        reject=command.reject,
        reason=command.reason,
        proposal_hash=command.version,
        request_id=command.request_id,
        fingerprint=command.fingerprint,
        override_duties=command.override_duties,
        override_by=caller().email if command.override_duties else None,
    )
    return moved(command.name, step)


@handles(c.SetStrategy)
def _strategy(ctx: Context, command: c.SetStrategy, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.services import set_strategy

    return moved(command.name, set_strategy(ctx, command.opportunity, text=command.text, by=actor))


@handles(c.RecordResult)
def _result(ctx: Context, command: c.RecordResult, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.closing import outcomes

    if command.outcome == "shortlisted":
        step = outcomes.shortlist(ctx, command.opportunity, by=actor, reason=command.reason)
    elif command.outcome == "bafo":
        step = outcomes.request_bafo(
            ctx,
            command.opportunity,
            reason=command.reason or "",
            by=actor,
            deadline=command.deadline,
        )
    else:
        step = outcomes.record_result(
            ctx,
            command.opportunity,
            won=command.outcome == "won",
            reason=command.reason or "",
            by=actor,
            category=command.category,
            competitor=command.competitor,
            price_gap_pct=command.price_gap,
            competitor_contract_end=command.competitor_contract_end,
        )
    return c.Answered(**moved(command.name, step).model_dump(), outcome=command.outcome)


@handles(c.Withdraw)
def _withdraw(ctx: Context, command: c.Withdraw, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.closing.outcomes import withdraw

    step = withdraw(
        ctx,
        command.opportunity,
        reason=command.reason,
        by=actor,
        category=command.category,
        wake_up=command.wake_up,
    )
    return c.Answered(**moved(command.name, step).model_dump(), category=command.category)
