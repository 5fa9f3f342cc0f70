"""Every Prometheus metric of the bid orchestrator, defined here and nowhere else.

Two kinds, because they are true in different places:

- **Counted in the process** (they live in `prometheus_client`'s default registry): the
  transitions this process wrote (`bid_transitions_total`, counted where `move_bid` writes the
  move's audit event) and the latency of the commands this process answered
  (`bid_command_duration_seconds`, per command name, in the JSON API). Each process that moves
  bids (the API, the task workers, the served flows) counts its own; Prometheus sums them
  (`sum(rate(bid_transitions_total[5m]))`).
- **Read from the database at scrape time** (`DatabaseCollector`): bids by state, approvals
  waiting and the age of the oldest, the Slack outbox's depth and retries, the effects
  outbox's (render, carry on) by kind and status. They are the same
  wherever they are scraped; aggregate them with `max`, not `sum`.

`registry_for(context)` puts both behind one registry; the API's `/metrics` and `bid
task-worker --metrics-port` serve it. The write path (`orchestrator.bid`) imports this module
for `transition_recorded` only: an in-memory counter and one log line, no I/O (docs/deploy.md,
"Metrics and logs").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlmodel import col, func, select

from orchestrator.context import Context
from orchestrator.core.effects import EffectKind, EffectStatus
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    Effect,
    Opportunity,
    OutboxMessage,
    State,
)

if TYPE_CHECKING:  # imported when first used: the write path must stay quick to import
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

log = logging.getLogger("bid.transitions")


_MAKING = threading.Lock()
"""`functools.cache` does not stop two threads making a metric at once; a second
registration of one name is an error of prometheus_client's (seen with eight Slack clicks
at once), so every metric is made under this lock."""


@cache
def transitions() -> Counter:
    """bid_transitions_total{from_state,to_state,trigger}: moves this process wrote."""
    with _MAKING:
        return _transitions()


@cache
def _transitions() -> Counter:
    from prometheus_client import Counter

    return Counter(
        "bid_transitions",
        "Bid transitions written by this process (one per audit event of a move).",
        ["from_state", "to_state", "trigger"],
    )


@cache
def command_seconds() -> Histogram:
    """bid_command_duration_seconds{command,outcome}: the JSON API's commands."""
    with _MAKING:
        return _command_seconds()


@cache
def _command_seconds() -> Histogram:
    from prometheus_client import Histogram

    return Histogram(
        "bid_command_duration_seconds",
        "Time to answer a command of the JSON API, by command name and outcome.",
        ["command", "outcome"],
        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    )


def transition_recorded(
    ref: str, from_state: str | None, to_state: str | None, trigger: str
) -> None:
    """Count a move and log it with its bid id; called where its audit event is written.

    The count is taken before the transaction commits: a move whose transaction is rolled back
    afterwards (rare: a conflicting writer) is counted all the same. The log line is a plain
    standard-library record whose fields (`bid`, the states, the trigger) the JSON format
    writes out (orchestrator.logs). Counting never stops a move: a failure of the metrics
    library is logged, and the move goes on."""
    try:
        transitions().labels(str(from_state or ""), str(to_state or ""), trigger).inc()
    except Exception:  # a metric is never worth a lost transition
        log.exception("bid_transitions could not be counted")
    fields = {"bid": ref, "from_state": from_state, "to_state": to_state, "trigger": trigger}
    log.info("transition", extra={key: str(value or "") for key, value in fields.items()})


def _aware(moment: datetime) -> datetime:
    """SQLite gives timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DatabaseCollector:
    """Gauges read from the bid database at every scrape (one short read-only session).

    A Prometheus collector by shape (`collect`); not a subclass, so that importing this module
    does not import prometheus_client."""

    def __init__(self, context: Callable[[], Context]) -> None:
        self._context = context

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("bid_database_up", "1 when the gauges could be read, else 0.")
        try:
            families = self._read()
        except Exception:  # a scrape must answer; the gauges are missing and `up` says why
            log.exception("metrics: the database could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        ctx = self._context()
        now = ctx.clock()
        with reading(ctx.engine) as session:
            by_state = dict(
                session.exec(
                    select(Opportunity.state, func.count()).group_by(Opportunity.state)
                ).all()
            )
            waiting = session.exec(
                select(func.count(), func.min(Approval.requested_at)).where(
                    Approval.status == ApprovalStatus.REQUESTED
                )
            ).one()
            outbox = session.exec(
                select(
                    func.count(),
                    func.count().filter(col(OutboxMessage.attempts) > 0),
                    func.coalesce(func.sum(OutboxMessage.attempts), 0),
                ).where(col(OutboxMessage.sent_at).is_(None))
            ).one()

            effects = session.exec(
                select(
                    Effect.kind,
                    Effect.status,
                    func.count(),
                    func.count().filter(col(Effect.attempts) > 0),
                ).group_by(Effect.kind, Effect.status)
            ).all()

        bids = GaugeMetricFamily("bid_bids", "Bids in each state.", labels=["state"])
        for state in State:
            bids.add_metric([state.value], int(by_state.get(state, 0)))
        count, oldest = waiting
        approvals = GaugeMetricFamily("bid_approvals_waiting", "Approvals requested, not decided.")
        approvals.add_metric([], int(count))
        age = GaugeMetricFamily(
            "bid_approval_oldest_waiting_seconds",
            "Age of the oldest approval still waiting (0 when none waits).",
        )
        age.add_metric([], max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0)
        pending, retrying, attempts = outbox
        depth = GaugeMetricFamily("bid_outbox_pending", "Slack messages not delivered yet.")
        depth.add_metric([], int(pending))
        retries = GaugeMetricFamily(
            "bid_outbox_retrying", "Undelivered Slack messages that failed at least once."
        )
        retries.add_metric([], int(retrying))
        tries = GaugeMetricFamily(
            "bid_outbox_failed_attempts", "Delivery attempts spent on undelivered Slack messages."
        )
        tries.add_metric([], int(attempts))
        waiting_effects = GaugeMetricFamily(
            "bid_effects",
            "Effects (render, carry on) of committed moves, by kind and status (not done ones).",
            labels=["kind", "status"],
        )
        retried = GaugeMetricFamily(
            "bid_effects_retrying",
            "Effects not done that failed at least once, by kind.",
            labels=["kind"],
        )
        open_statuses = (EffectStatus.PENDING, EffectStatus.RUNNING, EffectStatus.FAILED)
        counts = {(EffectKind(k), EffectStatus(s)): (int(n), int(r)) for k, s, n, r in effects}
        for kind in EffectKind:
            for status in open_statuses:
                count = counts.get((kind, status), (0, 0))[0]
                waiting_effects.add_metric([kind.value, status.value], count)
            failed_once = sum(counts.get((kind, status), (0, 0))[1] for status in open_statuses)
            retried.add_metric([kind.value], failed_once)
        return [bids, approvals, age, depth, retries, tries, waiting_effects, retried]


class _ProcessCollector:
    """The default registry's metrics: this process's counters, histograms and runtime."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def registry_for(context: Callable[[], Context]) -> CollectorRegistry:
    """This process's counters and the database's gauges, in one registry to serve."""
    from prometheus_client import CollectorRegistry

    transitions(), command_seconds()  # defined (HELP and TYPE shown) before the first move
    registry = CollectorRegistry(auto_describe=False)
    registry.register(cast("Collector", _ProcessCollector()))
    registry.register(cast("Collector", DatabaseCollector(context)))
    return registry


def serve_http(registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> int:
    """Serve `registry` at http://host:port/metrics from a daemon thread; return the port.

    For processes without a web app of their own (`bid task-worker --metrics-port`); port 0
    takes a free one."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format."""
    from prometheus_client import generate_latest

    return generate_latest(registry)
