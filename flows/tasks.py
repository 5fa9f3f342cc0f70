"""Carrying bids on in long-lived task workers, and the dispatcher's scheduled drain.

A served deployment starts a Python process for every flow run (about a second of imports
before any work). In production mode the answers that carry a bid on — a go/no-go, the last
approval, the customer's verdict — are instead handed to task workers (`bid task-worker`,
`prefect.task_worker.serve`): long-lived processes that take scheduled task runs over a
websocket and run them in process. One `carry-bid` task run carries one bid as far as it
goes without a person (the same loop as the `bid-lifecycle` flow), tagged `opp:`,
`account:` and `step:lifecycle`, with every step in its log.

The `effects-drain` flow runs the dispatcher on a schedule (every few minutes): whatever a
door left undone — a process killed between the commit and its effects, Prefect or the
renderer down for a while — is run or retried from the effects outbox.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, tags, task

from flows.context import bid_labels, current
from orchestrator.bid.facts import parse_ref
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.dispatch import RENDERS_ONLY, drain
from orchestrator.errors import BidError, NotFound
from orchestrator.store.models import format_ref


@task(
    name="carry-bid",
    task_run_name="{ref} · carry on",
    retries=2,
    retry_delay_seconds=2,
    persist_result=True,
)
def carry_bid(ref: str, actor: str = "prefect", limit: int = 20) -> list[str]:
    """Advance the bid step after step until it waits for a person, closes, or a guard refuses.

    Idempotent: a retried or repeated run finds the bid where the last one left it (every step
    commits with its audit event, and a step that was already taken is not taken again).
    The bid's effects (its documents) and the notifications are then run by the dispatcher.
    """
    ctx = current()
    logger = get_run_logger()
    ref = format_ref(parse_ref(ref))  # the bid's id as users see it; its first step reads it
    from prefect.runtime import task_run

    from orchestrator.slack.notify import running_in

    running_in(ctx.settings, ref, str(task_run.id))  # its messages link this run
    try:
        results = services.run_until_waiting(lambda: services.advance(ctx, ref, actor), limit)
    except NotFound:
        raise  # no such bid: the run fails (its retries find none either)
    except BidError as refused:  # a guard said no: an outcome on the bid's status, no retry
        logger.warning("%s waits: %s", ref, refused)
        lines = [str(refused)]
    else:
        for result in results:
            logger.info("%s", result.message)
        lines = [result.message for result in results]
    from flows.deadline_watch import PublishingCarrier

    # its documents and plan (the door that handed the bid over left them to this run,
    # whether or not it moved); the requests go out
    drain(ctx, PublishingCarrier(), ref=ref, kinds=RENDERS_ONLY)
    return lines


class LifecycleCarrier:
    """Carries a bid on as a `bid-lifecycle` subflow run of the drain (seen in the UI)."""

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        from flows.steps import bid_lifecycle

        labels = bid_labels(ctx, ref)
        with tags(*labels.tags("lifecycle")):
            steps = bid_lifecycle(ref=labels.ref, actor=actor)
        return "; ".join(step.message for step in steps)

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        from flows.deadline_watch import publish_control_plan

        publish_control_plan(ref)
        return "plan published"


@flow(name="effects-drain", flow_run_name="drain effects", persist_result=False)
def drain_effects() -> list[str]:
    """Run the effects of committed moves that no door ran (a crash, an outage) and retry
    the failed ones that are due: documents rendered, bids carried on, messages delivered."""
    report = drain(current(), LifecycleCarrier())
    lines = report.lines()
    if lines:
        get_run_logger().info("%d effect(s) run: %s", len(lines), lines)
    return lines
