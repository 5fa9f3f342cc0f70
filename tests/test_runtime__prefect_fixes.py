"""The work-around for Prefect 3.9's shared service lock (orchestrator/runtime/prefect_fixes.py).

The deadlock it prevents: a worker thread creating a concurrency-slot service (every tagged
task run) holds the instance lock while it waits for the global event loop, and the loop
waits for the same lock to reach the events worker. With a lock per service class, the
events worker can be reached while a concurrency-slot service is being created.
"""

from __future__ import annotations

import threading
from datetime import UTC
from types import SimpleNamespace
from typing import Any, cast

import pytest

from orchestrator.runtime.prefect_fixes import separate_service_locks


def test_the_events_worker_is_reachable_while_a_concurrency_service_is_being_created() -> None:
    separate_service_locks()
    from prefect.concurrency.services import ConcurrencySlotAcquisitionWithLeaseService
    from prefect.events.worker import EventsWorker

    got: list[bool] = []
    with ConcurrencySlotAcquisitionWithLeaseService._instance_lock:  # a thread creating one

        def global_loop_emits_an_event() -> None:
            acquired = EventsWorker._instance_lock.acquire(timeout=5)
            got.append(acquired)
            if acquired:
                EventsWorker._instance_lock.release()

        other = threading.Thread(target=global_loop_emits_an_event)
        other.start()
        other.join(timeout=10)
    assert got == [True]


def test_applied_once_per_process() -> None:
    separate_service_locks()
    assert separate_service_locks() is False


def test_prefect_clients_share_one_verified_tls_context_per_ca_file() -> None:
    from orchestrator.runtime import prefect_fixes

    prefect_fixes.apply()
    from prefect.client.orchestration import SyncPrefectClient

    first = SyncPrefectClient("http://127.0.0.1:9/api")
    second = SyncPrefectClient("http://127.0.0.1:9/api")
    pools: list[Any] = [c._client._transport for c in (first, second)]
    contexts = [pool._pool._ssl_context for pool in pools]
    assert contexts[0] is contexts[1]
    import ssl

    assert contexts[0].verify_mode == ssl.CERT_REQUIRED  # still verified, only shared


def test_a_bids_own_tags_ask_for_no_concurrency_lease() -> None:
    from orchestrator.runtime import prefect_fixes

    prefect_fixes.apply()
    import prefect.task_engine as engine

    asked: list[object] = []

    def real(*args: object, **kwargs: object) -> str:
        asked.append(kwargs.get("names", args[0] if args else None))
        return "held"

    wrapped = prefect_fixes._without_bid_tags(real)
    names = ["tag:opp:OPP-0007", "tag:account:Acme", "tag:step:lifecycle"]
    assert wrapped(names=names, occupy=1) == "held"
    assert wrapped(names) == "held"
    assert asked == [["tag:step:lifecycle"], ["tag:step:lifecycle"]]
    concurrency: Any = vars(engine)["_concurrency"]
    assert concurrency.__wrapped_bid_tags__


def test_a_background_task_is_handed_over_without_the_submitters_settings() -> None:
    from orchestrator.runtime import prefect_fixes

    prefect_fixes.apply()
    import prefect.tasks as tasks
    from prefect.context import serialize_context

    handed = getattr(tasks, "serialize_context")()  # noqa: B009 - not exported
    assert handed["settings_context"] == {}  # the worker runs it with its own settings
    assert serialize_context()["settings_context"]  # everything else still carries them


def test_the_servers_default_result_storage_is_asked_once_per_minute_not_per_hand_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uuid

    import prefect.results as results
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from orchestrator.runtime import prefect_fixes

    prefect_fixes.storage_default_kept()
    asked: list[str] = []
    block = uuid.uuid4()

    def read(self: Any) -> Any:
        asked.append(str(self.api_url))
        return SimpleNamespace(default_result_storage_block_id=block)

    monkeypatch.setattr(SyncPrefectClient, "read_server_default_result_storage", read)
    api = f"http://127.0.0.1:9/api-{uuid.uuid4().hex[:8]}"
    with temporary_settings({PREFECT_API_URL: api}):
        for _ in range(5):  # five hand-overs
            assert results._read_server_default_result_storage_block_id() == block
        assert len(asked) == 1
        monkeypatch.setattr(prefect_fixes, "STORAGE_TTL_S", 0.0)  # a minute later
        assert results._read_server_default_result_storage_block_id() == block
        assert len(asked) == 2


def test_a_task_worker_waits_for_a_task_run_without_polling_the_queues() -> None:
    """The server's `MultiQueue.get` looked into its queues every 10 ms (100 times a second per
    subscribed task worker); now it waits for a put or a retry, and takes the task run then."""
    import asyncio
    import time

    from prefect.server.task_queue import MultiQueue, TaskQueue

    from orchestrator.runtime.prefect_fixes import task_queues_wait_for_puts

    task_queues_wait_for_puts()
    looked = [0]
    real = TaskQueue.get_nowait

    def counting(self: Any) -> Any:
        looked[0] += 1
        return real(self)

    async def scenario() -> tuple[Any, Any, float]:
        TaskQueue.reset()
        waiting = asyncio.create_task(MultiQueue(["fix.carry", "fix.other"]).get())
        await asyncio.sleep(0.5)  # idle: polling would have looked about 100 times
        idle_looks = looked[0]
        put_at = time.perf_counter()
        first_run: Any = SimpleNamespace(id="first")
        await TaskQueue.for_key("fix.other").put(first_run)
        first = await asyncio.wait_for(waiting, timeout=2)
        latency = time.perf_counter() - put_at
        again = asyncio.create_task(MultiQueue(["fix.carry"]).get())
        await asyncio.sleep(0.1)
        retried_run: Any = SimpleNamespace(id="retried")
        await TaskQueue.for_key("fix.carry").retry(retried_run)
        second = await asyncio.wait_for(again, timeout=2)
        assert idle_looks <= 4, f"looked {idle_looks} times in half a second of idling"
        return first, second, latency

    original = TaskQueue.get_nowait
    TaskQueue.get_nowait = counting  # type: ignore[method-assign]
    try:
        first, second, latency = asyncio.run(scenario())
    finally:
        TaskQueue.get_nowait = original  # type: ignore[method-assign]
        TaskQueue.reset()
    assert (first.id, second.id) == ("first", "retried")
    assert latency < 0.5  # taken when put, not at the next second


def test_the_server_binds_its_timestamps_as_plain_datetimes_of_the_same_instant() -> None:
    """asyncpg encodes a timestamp by subtracting its epoch: 25 µs for Prefect's pendulum
    `DateTime`, 0.3 for a plain `datetime` (9 % of a production stack's Prefect server)."""
    from datetime import datetime, timedelta

    from prefect.server.utilities.database import Timestamp
    from prefect.types._datetime import now
    from sqlalchemy.dialects import postgresql, sqlite

    from orchestrator.runtime.prefect_fixes import plain_timestamps_bound

    plain_timestamps_bound()
    assert plain_timestamps_bound() is False  # once per process
    column: Any = Timestamp()
    pg, lite = (cast(Any, dialect.dialect)() for dialect in (postgresql, sqlite))
    moment: Any = now("UTC") + timedelta(microseconds=123457)
    assert type(moment) is not datetime
    bound = column.process_bind_param(moment, pg)
    assert type(bound) is datetime
    assert bound == moment and bound.microsecond == moment.microsecond
    assert bound.utcoffset() == timedelta(0)
    amsterdam = moment.in_timezone("Europe/Amsterdam")  # another zone: the same instant
    in_amsterdam = column.process_bind_param(amsterdam, pg)
    assert type(in_amsterdam) is datetime and in_amsterdam == moment
    assert in_amsterdam.utcoffset() == amsterdam.utcoffset()
    on_sqlite = column.process_bind_param(moment, lite)
    assert type(on_sqlite) is datetime and on_sqlite == moment
    assert on_sqlite.utcoffset() == timedelta(0)
    plain = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert column.process_bind_param(plain, pg) is plain
    assert column.process_bind_param(None, pg) is None
    with pytest.raises(ValueError, match="timezone"):
        column.process_bind_param(datetime(2026, 1, 2), pg)
