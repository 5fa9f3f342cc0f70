"""Work-arounds for known faults of the Prefect release we run on, applied where runs execute.

Prefect 3.9's `_QueueServiceBase.instance` guards the creation of every client-side service
(the events worker, the concurrency-slot services, the log worker …) with ONE class-level
lock, and holds it while it waits for the global event loop to start a new service. A task
run with tags creates a concurrency-slot service per set of tags (so: per bid), from a
worker thread; if the global loop meanwhile emits an event (a task worker does, for every
task run it takes), it waits for that same lock: both wait forever and the task worker
stops taking work. Found with py-spy on a production-mode run of 200 bids: three carry-bid
runs RUNNING for ten minutes, the rest SCHEDULED.

The cure is a lock per service class, so that creating a concurrency-slot service never
blocks the events worker. Applied once per process, before the first task run.
"""

from __future__ import annotations

import threading

_APPLIED: list[bool] = []


def separate_service_locks() -> bool:
    """Give each Prefect client service class its own instance lock. True if applied here."""
    if _APPLIED:
        return False
    from prefect._internal.concurrency.services import _QueueServiceBase

    def subclasses(cls: type) -> list[type]:
        found: list[type] = []
        sub: type
        for sub in cls.__subclasses__():
            found.append(sub)
            found.extend(subclasses(sub))
        return found

    # The services are imported where they are used: import them so that they exist now.
    import prefect.concurrency.services
    import prefect.events.worker
    import prefect.logging.handlers  # noqa: F401

    for service in subclasses(_QueueServiceBase):
        if "_instance_lock" not in vars(service):
            service._instance_lock = threading.Lock()  # type: ignore[attr-defined]
    _APPLIED.append(True)
    return True
