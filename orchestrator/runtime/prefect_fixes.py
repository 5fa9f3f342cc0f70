"""Work-arounds for known faults and costs of the Prefect release we run on (3.9), applied
once per process where runs execute or are handed over (`apply`).

**One lock per service class.** Prefect 3.9's `_QueueServiceBase.instance` guards the
creation of every client-side service (the events worker, the concurrency-slot services,
the log worker …) with ONE class-level lock, and holds it while it waits for the global
event loop to start a new service. A task run with tags creates a concurrency-slot service
per set of tags, from a worker thread; if the global loop meanwhile emits an event (a task
worker does, for every task run it takes), it waits for that same lock: both wait forever
and the task worker stops taking work. Found with py-spy on a production-mode run of 200
bids: three carry-bid runs RUNNING for ten minutes, the rest SCHEDULED. The cure is a lock
per service class, so that creating a concurrency-slot service never blocks the events
worker.

The others cut what every hand-over to the task workers cost in CPU (measured with
`bench/bench_production_mode.py`; issue 22):

**TLS contexts shared.** Every Prefect client builds a TLS context from the whole CA bundle
(13 ms of CPU), whether or not its server speaks TLS; a task run makes two or three clients,
a plan published in the UI one more. The verified context for a CA file is built once per
process and shared (an SSL context is safe to share between connections and threads).

**A bid's own tags are not concurrency limits.** Prefect asks the server for a concurrency
lease on every tag of a task run, and starts a lease service (a thread and a client) per set
of tags: per bid, since every carry-bid run is tagged `opp:<ref>` and `account:<id>`. Those
tags name the bid in the UI and never carry a limit; the lease is asked for the other tags
only (`step:lifecycle` keeps any limit an operator sets on it).

**The worker's own settings.** A background task carries the submitter's whole Prefect
settings to the worker, which validates them again for every run (10 ms to send, 18 ms to
take). The task workers run with the stack's settings already; they use their own.

**The server's default result storage, asked once a minute.** Every hand-over (`delay`)
asks the server which result storage it prefers (GET /admin/storage), for the parameters it
stores: five requests a bid. An operator rarely changes it; the answer is kept for
`STORAGE_TTL_S` per API.

One fix is for the server (`apply_server`, run by `orchestrator.runtime.prefect_server`):

**Task workers wait for work without polling.** The server hands background task runs to
each subscribed task worker from in-memory queues; its `MultiQueue.get` looked into them
every 10 ms, 100 times a second per task worker, whether or not anything was queued. An idle
production stack's Prefect server spent most of its 30 ms of CPU a second on that. A get
now waits until a task run is put into a queue (or retried), and looks then.

**Timestamps bound as plain datetimes.** The server's timestamps are Prefect's pendulum
`DateTime`s; asyncpg encodes each by subtracting its epoch from it, which pendulum (and
Prefect's deprecation wrapper around it) makes a 25 µs operation instead of 0.3: 9 % of a
production stack's Prefect server CPU, mostly in writing events. The server's `Timestamp`
column type now hands the driver the same instant as a plain `datetime`.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

PER_BID_TAGS = ("tag:opp:", "tag:account:")
"""Prefect's concurrency names for a bid's own tags (`tag:` + the run's tag)."""

STORAGE_TTL_S = 60.0
"""How long the server's answer on its default result storage is used again."""

_APPLIED: set[str] = set()
_LOCK = threading.Lock()


def apply() -> None:
    """Every fix below, once per process (cheap to call again)."""
    for fix in (separate_service_locks, shared_tls_contexts, no_leases_for_bid_tags,
                workers_use_their_own_settings, storage_default_kept):  # fmt: skip
        fix()


def apply_server() -> None:
    """The server's fixes, once per process: before `prefect server start` runs."""
    task_queues_wait_for_puts()
    plain_timestamps_bound()


def _once(name: str) -> bool:
    """True the first time `name` is asked for in this process."""
    with _LOCK:
        if name in _APPLIED:
            return False
        _APPLIED.add(name)
        return True


def separate_service_locks() -> bool:
    """Give each Prefect client service class its own instance lock. True if applied here."""
    if not _once("service locks"):
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
    return True


class _SharedContexts:
    """The `ssl` module as Prefect's client module sees it, with verified contexts built
    once per CA file (and built again if the file changes)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._held: dict[tuple[str, int, int], ssl.SSLContext] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_default_context(
        self, purpose: Any = ssl.Purpose.SERVER_AUTH, *, cafile: Any = None, **others: Any
    ) -> ssl.SSLContext:
        if cafile is None or others or purpose != ssl.Purpose.SERVER_AUTH:
            # an unverified context is changed by its caller: never shared
            return self._real.create_default_context(purpose, cafile=cafile, **others)  # type: ignore[no-any-return]
        try:
            stat = Path(cafile).stat()
        except OSError:
            return self._real.create_default_context(purpose, cafile=cafile)  # type: ignore[no-any-return]
        key = (str(cafile), stat.st_mtime_ns, stat.st_size)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = self._real.create_default_context(purpose, cafile=cafile)
        return held


def shared_tls_contexts() -> bool:
    """Prefect's clients share one verified TLS context per CA file. True if applied here."""
    if not _once("tls contexts"):
        return False
    import prefect.client.orchestration as orchestration

    if getattr(orchestration, "ssl", None) is not ssl:  # another Prefect: leave it be
        return False
    setattr(orchestration, "ssl", _SharedContexts(ssl))  # noqa: B010 - a module attribute
    return True


def _without_bid_tags(real: Callable[..., Any]) -> Callable[..., Any]:
    def names_kept(names: Any) -> Any:
        if not isinstance(names, list):
            return names
        return [n for n in names if not str(n).startswith(PER_BID_TAGS)]

    if getattr(real, "__wrapped_bid_tags__", False):
        return real

    def concurrency(*args: Any, **kwargs: Any) -> Any:
        if "names" in kwargs:
            kwargs["names"] = names_kept(kwargs["names"])
        elif args:
            args = (names_kept(args[0]), *args[1:])
        return real(*args, **kwargs)

    concurrency.__wrapped_bid_tags__ = True  # type: ignore[attr-defined]
    return concurrency


def no_leases_for_bid_tags() -> bool:
    """Task runs ask for concurrency leases on their tags but a bid's own. True if applied."""
    if not _once("bid tags"):
        return False
    import prefect.task_engine as engine

    for name in ("_concurrency", "_aconcurrency"):
        real = getattr(engine, name, None)
        if real is None:  # another Prefect: leave it be
            return False
        setattr(engine, name, _without_bid_tags(real))
    return True


_HANDING_OVER: ContextVar[bool] = ContextVar("bid_handing_over_a_task", default=False)


def workers_use_their_own_settings() -> bool:
    """A background task is handed over without the submitter's Prefect settings: the
    worker runs it with its own. True if applied here."""
    if not _once("worker settings"):
        return False
    import prefect.tasks as tasks
    from prefect.context import SettingsContext

    real = getattr(tasks, "serialize_context", None)
    real_serialize = getattr(SettingsContext, "serialize", None)
    if real is None or real_serialize is None:  # another Prefect: leave it be
        return False

    def serialize_settings(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if _HANDING_OVER.get():
            return {}  # nothing to carry: the worker's hydration skips an empty one
        return real_serialize(self, *args, **kwargs)  # type: ignore[no-any-return]

    def serialize_context(*args: Any, **kwargs: Any) -> dict[str, Any]:
        token = _HANDING_OVER.set(True)
        try:
            return real(*args, **kwargs)  # type: ignore[no-any-return]
        finally:
            _HANDING_OVER.reset(token)

    SettingsContext.serialize = serialize_settings  # type: ignore[method-assign]
    tasks.serialize_context = serialize_context  # type: ignore[attr-defined]
    return True


def storage_default_kept() -> bool:
    """The server's default result storage is asked for once per `STORAGE_TTL_S` and API,
    not at every hand-over. True if applied here."""
    if not _once("storage default"):
        return False
    import time

    import prefect.results as results
    from prefect.settings import get_current_settings

    real = getattr(results, "_read_server_default_result_storage_block_id", None)
    real_async = getattr(results, "_aread_server_default_result_storage_block_id", None)
    if real is None or real_async is None:  # another Prefect: leave it be
        return False
    held: dict[str, tuple[float, Any]] = {}

    def kept(api: str) -> tuple[bool, Any]:
        found = held.get(api)
        if found is not None and time.monotonic() - found[0] < STORAGE_TTL_S:
            return True, found[1]
        return False, None

    def keep(api: str, answer: Any) -> Any:
        held[api] = (time.monotonic(), answer)  # None too: no default, or no answer
        return answer

    def read() -> Any:
        api = str(get_current_settings().api.url or "")
        hit, answer = kept(api)
        return answer if hit else keep(api, real())

    async def aread() -> Any:
        api = str(get_current_settings().api.url or "")
        hit, answer = kept(api)
        return answer if hit else keep(api, await real_async())

    results._read_server_default_result_storage_block_id = read
    results._aread_server_default_result_storage_block_id = aread
    return True


def task_queues_wait_for_puts() -> bool:
    """`MultiQueue.get` waits for a put or a retry into any task queue instead of polling
    every 10 ms. True if applied here."""
    if not _once("task queues wait"):
        return False
    from prefect.server import task_queue

    multi, queue = getattr(task_queue, "MultiQueue", None), getattr(task_queue, "TaskQueue", None)
    if (
        multi is None
        or queue is None
        or not all(
            callable(getattr(c, n, None))
            for c, n in ((multi, "get"), (queue, "put"), (queue, "retry"))
        )
    ):
        return False  # another Prefect: leave it be
    waiting: set[asyncio.Future[None]] = set()

    def wake() -> None:
        for waiter in list(waiting):
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_settle, waiter)

    real_put, real_retry = queue.put, queue.retry

    async def put(self: Any, task_run: Any) -> None:
        await real_put(self, task_run)
        wake()

    async def retry(self: Any, task_run: Any) -> None:
        await real_retry(self, task_run)
        wake()

    async def get(self: Any) -> Any:
        while True:
            for each in self._queues:
                try:
                    return each.get_nowait()
                except asyncio.QueueEmpty:
                    continue
            waiter = asyncio.get_running_loop().create_future()
            waiting.add(waiter)
            try:  # nothing is put between the look above and here: one thread, no await
                await asyncio.wait({waiter}, timeout=1.0)  # a put elsewhere: look again
            finally:
                waiting.discard(waiter)

    queue.put, queue.retry, multi.get = put, retry, get
    return True


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def plain_timestamps_bound() -> bool:
    """The server's `Timestamp` type binds a pendulum `DateTime` as the same instant in a
    plain `datetime` (what it binds is otherwise unchanged). True if applied here."""
    if not _once("plain timestamps"):
        return False
    from prefect.server.utilities import database

    timestamp = getattr(database, "Timestamp", None)
    real = getattr(timestamp, "process_bind_param", None)
    if timestamp is None or real is None:
        return False  # another Prefect: leave it be

    def process_bind_param(self: Any, value: Any, dialect: Any) -> Any:
        if value is not None and type(value) is not datetime and isinstance(value, datetime):
            value = plain_datetime(value)
        return real(self, value, dialect)

    timestamp.process_bind_param = process_bind_param
    return True


def plain_datetime(value: datetime) -> datetime:
    """`value` (a datetime subclass, e.g. pendulum's) as a plain `datetime`: the same
    fields, zone and fold."""
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=value.tzinfo, fold=value.fold,
    )  # fmt: skip
