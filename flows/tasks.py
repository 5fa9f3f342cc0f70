"""Carrying bids on in long-lived task workers: Prefect background tasks, no process per run.

A served deployment starts a Python process for every flow run (about a second of imports
before any work). In production mode the answers that carry a bid on — a go/no-go, the last
approval, the customer's verdict, a new bid — are instead handed to task workers
(`bid task-worker`, `prefect.task_worker.serve`): long-lived processes that take scheduled
task runs over a websocket and run them in process. One `carry-bid` task run carries one bid
as far as it goes without a person (the same loop as the `bid-lifecycle` flow), tagged
`opp:`, `account:` and `step:lifecycle`, with every step in its log.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger, task

from flows.context import bid_labels, current
from orchestrator.bid import services
from orchestrator.bid.resume import stalled
from orchestrator.errors import BidError


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
    """
    ctx = current()
    logger = get_run_logger()
    labels = bid_labels(ctx, ref)
    try:
        results = services.run_until_waiting(
            lambda: services.advance(ctx, labels.ref, actor), limit
        )
    except BidError as refused:  # a guard said no: an outcome on the bid's status, no retry
        logger.warning("%s waits: %s", labels.ref, refused)
        return [str(refused)]
    for result in results:
        logger.info("%s", result.message)
    if ctx.settings.slack_bot_token:  # the go/no-go and approval requests go out at once
        from orchestrator.slack.notify import deliver

        deliver(ctx)
    return [result.message for result in results]


@flow(name="resume-stalled-bids", flow_run_name="resume stalled bids", persist_result=False)
def resume_stalled_bids(idle_seconds: int = 60) -> list[str]:
    """Carry on every bid whose automated work is due but which has not moved for a while
    (the answer was recorded; carrying it on was lost to a crash or an outage)."""
    ctx = current()
    refs = stalled(ctx, timedelta(seconds=idle_seconds))
    for ref in refs:
        labels = bid_labels(ctx, ref)
        carry_bid.with_options(tags=labels.tags("lifecycle")).delay(ref=labels.ref, actor="resume")
    if refs:
        get_run_logger().info("handed %d stalled bid(s) to the task workers: %s", len(refs), refs)
    return refs
