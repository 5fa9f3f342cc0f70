"""The scheduled deadline watch: warn owners, escalate, and publish the deadline board.

Every run publishes the board of open milestones as the table artifact `bid-deadlines` and
each open bid's Bid Control Plan as `bid-control-plan-<id>`, so the Prefect UI shows where
every bid stands against its plan. The logic lives in `orchestrator.bid.progress.deadlines`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.context import current
from orchestrator.bid.progress import deadlines
from orchestrator.context import Context
from orchestrator.dispatch import InlineCarrier

BOARD_COLUMNS = ("bid", "account", "milestone", "owner", "due", "days left", "status")


def _table(rows: list[deadlines.DeadlineRow]) -> dict[str, list[Any]]:
    """Column-wise, so an empty board is still a table with its headers."""
    table: dict[str, list[Any]] = {column: [] for column in BOARD_COLUMNS}
    for row in rows:
        for column, value in row.table_row().items():
            if column == "milestone" and isinstance(value, str):
                value = deadlines.milestone_label(value)  # the UI's words, not snake_case
            table[column].append(value)
    return table


def plan_table(rows: list[deadlines.DeadlineRow]) -> dict[str, list[Any]]:
    """The Bid Control Plan, column-wise: status first, milestones in words."""
    table: dict[str, list[Any]] = {column: [] for column in deadlines.PLAN_COLUMNS}
    for row in rows:
        for column, value in row.plan_row().items():
            table[column].append(value)
    return table


def publish_control_plan(ref: str) -> None:
    """The bid's Bid Control Plan as a table artifact keyed by its id: published by the
    dispatcher's render effect after every change of the bid (and by the deadline watch), so
    the UI never shows an older plan than the bid's."""
    ctx = current()
    rows = deadlines.control_plan(ctx, ref)
    done = sum(1 for row in rows if row.status == deadlines.DONE)
    create_table_artifact(
        key=deadlines.plan_artifact_key(ref),
        table=plan_table(rows),
        description=(
            f"Bid Control Plan of {ref} at {ctx.clock():%Y-%m-%d %H:%M} UTC: "
            f"{done} of {len(rows)} milestones done"
        ),
    )


class PublishingCarrier(InlineCarrier):
    """The carrier of a drain inside a flow run: the render effects also publish the plan."""

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        publish_control_plan(ref)
        return "plan published"


@flow(name="deadline-watch", flow_run_name="deadline watch", persist_result=False)
def deadline_watch(notify: bool = True) -> dict[str, int]:
    """Queue the milestone warnings now due and publish the deadline board and plans."""
    ctx = current()
    report = deadlines.watch(ctx, notify=notify)
    overdue = sum(1 for row in report.board if row.status == deadlines.OVERDUE)
    create_table_artifact(
        key=deadlines.BOARD_ARTIFACT_KEY,
        table=_table(report.board),
        description=(
            f"Open milestones of open bids at {ctx.clock():%Y-%m-%d %H:%M} UTC: "
            f"{len(report.board)} open, {overdue} overdue, {len(report.queued)} warnings queued"
        ),
    )
    for ref in report.plans():
        publish_control_plan(ref)
    return {"open": len(report.board), "overdue": overdue, "queued": len(report.queued)}
