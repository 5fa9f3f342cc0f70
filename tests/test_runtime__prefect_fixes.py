"""The work-around for Prefect 3.9's shared service lock (orchestrator/runtime/prefect_fixes.py).

The deadlock it prevents: a worker thread creating a concurrency-slot service (every tagged
task run) holds the instance lock while it waits for the global event loop, and the loop
waits for the same lock to reach the events worker. With a lock per service class, the
events worker can be reached while a concurrency-slot service is being created.
"""

from __future__ import annotations

import threading

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
