"""The scheduled deadline watch: warn owners, escalate, and publish the deadline board.

Every run publishes the board of open milestones as the table artifact `bid-deadlines` and
each open bid's Bid Control Plan as `bid-control-plan-<id>`, so the Prefect UI shows where
every bid stands against its plan. The logic lives in `orchestrator.bid.progress.deadlines`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.exceptions import PrefectHTTPStatusError

from flows.context import current
from orchestrator.bid.progress import deadlines
from orchestrator.context import Context
from orchestrator.dispatch import InlineCarrier

BOARD_COLUMNS = ("bid", "account", "milestone", "owner", "due", "days left", "status")

PLAN_ID_TTL_S = 600.0
"""How long a process updates the plan artifact it knows without asking for the latest again."""

_PLAN_IDS: dict[tuple[str, str], tuple[UUID, float]] = {}
"""(API, key) -> the id of the plan artifact this process last published, and when."""
_PLAN_IDS_LOCK = threading.Lock()


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
    publish_in_place(
        deadlines.plan_artifact_key(ref),
        plan_table(rows),
        f"Bid Control Plan of {ref} at {ctx.clock():%Y-%m-%d %H:%M} UTC: "
        f"{done} of {len(rows)} milestones done",
    )


def publish_in_place(key: str, table: dict[str, list[Any]], description: str) -> None:
    """The table artifact `key`, one per bid and updated in place: the plan is published at
    each change and by every deadline watch (hourly), and a new version each time would pile
    up thousands of rows a day in Prefect's database, each with its events (a new version
    cost the stack ~20 ms of CPU, an update ~10).

    The artifact's id is kept for `PLAN_ID_TTL_S`, else asked for (the key's latest); with
    none (or one deleted in the UI) the artifact is created. Should two processes create the
    first plan of a bid at the same instant, one of them may update the other version for up
    to `PLAN_ID_TTL_S` before it asks again."""
    client = get_client(sync_client=True)
    where = (str(client.api_url), key)
    with _PLAN_IDS_LOCK:
        known = _PLAN_IDS.get(where)
    artifact_id = known[0] if known and time.monotonic() - known[1] < PLAN_ID_TTL_S else None
    if artifact_id is None:
        latest = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key])),
            limit=1,
        )
        artifact_id = latest[0].latest_id if latest else None
    if artifact_id is not None:
        try:  # the request itself: the client's update_artifact also emits an event per update
            client.request(
                "PATCH",
                "/artifacts/{id}",
                json={"data": json.dumps(table), "description": description},
                path_params={"id": artifact_id},
            )
        except PrefectHTTPStatusError as error:
            if error.response.status_code != 404:
                raise
        else:
            since = known[1] if known and known[0] == artifact_id else time.monotonic()
            with _PLAN_IDS_LOCK:
                _PLAN_IDS[where] = (artifact_id, since)
            return
    created = create_table_artifact(key=key, table=table, description=description)
    assert isinstance(created, UUID)  # called in sync code: the id, not a coroutine
    with _PLAN_IDS_LOCK:
        _PLAN_IDS[where] = (created, time.monotonic())


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
