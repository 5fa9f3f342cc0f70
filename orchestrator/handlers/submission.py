"""Handlers of the offer going out and of a pause: `bid submit` (a person sends the offer,
after the last approval), `bid hold` and `bid resume` (a postponed bid keeps everything in
it). The services decide; resuming commits a `carry` effect that `dispatch` runs."""

from __future__ import annotations

from orchestrator.bid.progress.hold import HoldResult
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, moved
from orchestrator.runtime.runner import FlowRunner


@handles(c.SubmitOffer)
def _submit(ctx: Context, command: c.SubmitOffer, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.submission import submit_offer

    step = submit_offer(
        ctx,
        command.opportunity,
        by=actor,
        channel=command.channel,
        reference=command.reference,
        at=command.at,
    )
    with_time = ctx.clock() if command.at is None else command.at
    return c.Submitted(
        **moved(command.name, step).model_dump(),
        channel=command.channel,
        reference=command.reference.strip(),
        at=with_time.isoformat(),
        by=actor,
    )


def _held(name: str, done: HoldResult) -> c.HoldChanged:
    return c.HoldChanged(
        command=name,
        opportunity=done.ref,
        message=done.message,
        state=done.state,
        on_hold=done.on_hold,
        reason=done.reason,
        until=done.until.isoformat() if done.until else None,
        cancelled_requests=list(done.cancelled_requests),
        moved_milestones=done.moved_milestones,
    )


@handles(c.HoldBid)
def _hold(ctx: Context, command: c.HoldBid, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.hold import hold_bid

    done = hold_bid(ctx, command.opportunity, reason=command.reason, until=command.until, by=actor)
    return _held(command.name, done)


@handles(c.ResumeBid)
def _resume(ctx: Context, command: c.ResumeBid, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.progress.hold import resume_bid

    return _held(command.name, resume_bid(ctx, command.opportunity, by=actor))
