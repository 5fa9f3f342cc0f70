"""A Slack retry that reaches another `bid serve` process is still recognised as a repeat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from orchestrator.context import Context
from orchestrator.doors.slack import SeenRequests


def test_a_delivery_is_taken_once_across_processes(ctx: Context) -> None:
    first_process = SeenRequests(engine=ctx.engine)
    second_process = SeenRequests(engine=ctx.engine)  # its own memory, the same database
    assert first_process.first_time("action:U1:approve:1700000000.1")
    assert not first_process.first_time("action:U1:approve:1700000000.1")
    assert not second_process.first_time("action:U1:approve:1700000000.1")
    assert second_process.first_time("action:U1:approve:1700000000.2")


def test_concurrent_deliveries_of_one_click_take_it_once(ctx: Context) -> None:
    doors = [SeenRequests(engine=ctx.engine) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(lambda door: door.first_time("view:V42"), doors))
    assert taken.count(True) == 1
