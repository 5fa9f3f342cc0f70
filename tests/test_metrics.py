"""Observability: `/metrics` of the JSON API and of a task worker, and the JSON log lines.

The counters live in the process (`prometheus_client`'s default registry) and are shared by
every test of a worker, so the tests compare before and after, never absolute counts; the
gauges are read from the test's own database.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, func, select

from orchestrator import logs
from orchestrator.api.app import make_app
from orchestrator.bid.progress.services import get_opportunity
from orchestrator.bid.team import people
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.core.effects import EffectKind, EffectStatus
from orchestrator.errors import InputError
from orchestrator.metrics import registry_for, serve_http
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Approval, Area, AuditEvent, Effect, OutboxMessage, Person
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, transitions
from tests.support.slack_api import admin_of

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def api(ctx: Context) -> Iterator[TestClient]:
    with TestClient(make_app(lambda: ctx, runner=InlineRunner())) as client:
        yield client


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(api: TestClient) -> Samples:
    reply = api.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return _samples(reply.text)


def _headers(ctx: Context, email: str) -> dict[str, str]:
    admin = admin_of(ctx)
    with reading(ctx.engine) as session:
        known = session.exec(select(Person).where(Person.email == email)).first()
    if known is None:
        people.add_person(ctx, email, by=admin)
    return {"Authorization": f"Bearer {people.issue_token(ctx, email, by=admin)}"}


def test_metrics_count_a_transition_and_show_bids_by_state(api: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    headers = _headers(ctx, PEOPLE["bid_manager"])
    with reading(ctx.engine) as session:
        source = get_opportunity(session, ref).state
    before = _scrape(api)

    moved = api.post("/api/v1/commands/advance", json={"opportunity": ref}, headers=headers)
    assert moved.status_code == 200, moved.text
    dest = moved.json()["state"]
    assert dest != source.value
    after = _scrape(api)

    with reading(ctx.engine) as session:  # the trigger as the audit trail wrote it
        trail = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    moves = [event for event in trail if event.from_state != event.to_state]
    event = moves[-1]
    assert (event.from_state, event.to_state) == (source, dest)
    labels = (("from_state", source.value), ("to_state", dest), ("trigger", event.trigger))
    key = ("bid_transitions_total", labels)
    assert after[key] == before.get(key, 0.0) + 1
    assert after[("bid_bids", (("state", dest),))] == 1
    assert after[("bid_bids", (("state", source.value),))] == 0
    assert after[("bid_database_up", ())] == 1
    latency = ("bid_command_duration_seconds_count", (("command", "advance"), ("outcome", "ok")))
    assert after[latency] == before.get(latency, 0.0) + 1

    refused = api.post(
        "/api/v1/commands/advance", json={"opportunity": "OPP-9999"}, headers=headers
    )
    assert refused.status_code == 404
    again = _scrape(api)
    miss = ("bid_command_duration_seconds_count", (("command", "advance"), ("outcome", "refused")))
    assert again[miss] == after.get(miss, 0.0) + 1
    assert again[key] == after[key]  # a refused command moves nothing and counts nothing
    assert not any(name.startswith("bid_command") and ("command", "launch") in labels
                   for name, labels in again)  # fmt: skip


def test_approvals_waiting_and_the_outbox_are_read_at_scrape_time(
    api: TestClient, ctx: Context
) -> None:
    ref = new_bid(ctx)
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        bid = get_opportunity(session, ref)
        for hours, area in zip((2, 1), list(Area)[:2], strict=True):
            session.add(
                Approval(
                    opportunity_id=bid.id or 0,
                    area=area,
                    requested_at=now - timedelta(hours=hours),
                )
            )
        session.add(OutboxMessage(key="m-failing", event="x", text="t", attempts=3))
        for key, kind, status, attempts in (
            ("e-render-retry", EffectKind.RENDER, EffectStatus.PENDING, 2),
            ("e-carry-failed", EffectKind.CARRY, EffectStatus.FAILED, 8),
            ("e-carry-done", EffectKind.CARRY, EffectStatus.DONE, 1),
        ):
            session.add(
                Effect(
                    key=key,
                    opportunity_id=bid.id,
                    kind=kind,
                    status=status,
                    attempts=attempts,
                )
            )
        session.add(OutboxMessage(key="m-sent", event="x", text="t", attempts=1, sent_at=now))
    with reading(ctx.engine) as session:
        pending = session.exec(
            select(func.count()).where(col(OutboxMessage.sent_at).is_(None))
        ).one()
        retrying = session.exec(
            select(func.count()).where(
                col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.attempts) > 0
            )
        ).one()

    with reading(ctx.engine) as session:
        by_status = dict(
            session.exec(
                select(Effect.status, func.count())
                .where(Effect.kind == EffectKind.RENDER)
                .group_by(Effect.status)
            ).all()
        )

    samples = _scrape(api)
    for name in ("pending", "running", "failed"):
        labels = (("kind", "render"), ("status", name))
        assert samples[("bid_effects", labels)] == by_status.get(EffectStatus(name), 0)
    assert samples[("bid_effects", (("kind", "carry"), ("status", "failed")))] == 1
    assert ("bid_effects", (("kind", "carry"), ("status", "done"))) not in samples
    assert samples[("bid_effects_retrying", (("kind", "carry"),))] == 1
    assert samples[("bid_effects_retrying", (("kind", "render"),))] >= 1
    assert samples[("bid_approvals_waiting", ())] == 2
    assert samples[("bid_approval_oldest_waiting_seconds", ())] == pytest.approx(7200, abs=1)
    assert samples[("bid_outbox_pending", ())] == pending
    assert samples[("bid_outbox_retrying", ())] == retrying >= 1
    assert samples[("bid_outbox_failed_attempts", ())] >= 3


def test_a_task_worker_serves_the_same_metrics_on_its_own_port(ctx: Context) -> None:
    from orchestrator.bid.progress.services import advance

    ref = new_bid(ctx)
    advance(ctx, ref, actor="test")  # as a worker carrying the bid on would
    port = serve_http(registry_for(lambda: ctx), 0, host="127.0.0.1")
    reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert reply.status_code == 200
    samples = _samples(reply.text)
    assert sum(v for (name, _), v in samples.items() if name == "bid_bids") == 1
    moved = [v for (name, _), v in samples.items() if name == "bid_transitions_total"]
    assert moved and sum(moved) >= 1


def test_an_unreadable_database_is_a_gauge_not_a_failed_scrape(ctx: Context) -> None:
    def broken() -> Context:
        raise RuntimeError("the database is down")

    text = httpx.get(
        f"http://127.0.0.1:{serve_http(registry_for(broken), 0, host='127.0.0.1')}/metrics",
        timeout=10,
    ).text
    samples = _samples(text)
    assert samples[("bid_database_up", ())] == 0
    assert not any(name == "bid_bids" for name, _ in samples)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs.configure(replace(load_settings({}), log_format="plain"))


def test_json_logs_are_one_object_a_line_with_the_bid_id(ctx: Context, root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure(load_settings({"BID_LOG_FORMAT": "JSON"}), stream=stream)
    ref = new_bid(ctx)
    from orchestrator.bid.progress.services import advance

    advance(ctx, ref, actor="test")
    with logs.bound_bid(ref):
        logging.getLogger("bid.api").warning("a line from the standard library")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    moves = [line for line in lines if line["event"] == "transition"]
    assert moves and all(line["bid"] == ref for line in moves)
    trail = [(str(a), str(b), t) for a, b, t in transitions(ctx) if a is not None]  # not `create`
    assert [(m["from_state"], m["to_state"], m["trigger"]) for m in moves] == trail
    assert moves[-1]["level"] == "info" and moves[-1]["logger"] == "bid.transitions"
    foreign = [line for line in lines if line["event"] == "a line from the standard library"]
    assert foreign == [foreign[0]] and foreign[0]["bid"] == ref
    assert foreign[0]["logger"] == "bid.api" and "timestamp" in foreign[0]


def test_an_unknown_log_format_is_refused_in_one_line() -> None:
    with pytest.raises(InputError) as refused:
        logs.configure(load_settings({"BID_LOG_FORMAT": "xml"}))
    assert str(refused.value) == "BID_LOG_FORMAT: 'xml' is not one of plain, json"


def test_a_metrics_port_that_cannot_be_used_is_refused_in_one_line(run_cli: RunCli) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for bad, fragment in ((str(port), "in use"), ("99999", "0-65535")):
            done = run_cli("task-worker", "--metrics-port", bad)
            assert done.code == 2, done.err
            lines = [line for line in done.err.splitlines() if line.strip()]
            assert len(lines) == 1 and f"--metrics-port {bad}" in lines[0], done.err
            assert fragment in lines[0] and "Traceback" not in done.err
