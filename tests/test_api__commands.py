"""The JSON API: every door's commands over HTTP, with the caller's token, refusing bad input
with a 4xx and one line, changing nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from orchestrator.api.app import make_app
from orchestrator.bid import people
from orchestrator.context import Context
from orchestrator.core.commands import COMMANDS, RESULTS
from orchestrator.pipeline import handled
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading
from orchestrator.store.models import AuditEvent, Opportunity, Person
from tests.factories import PEOPLE, new_bid, opportunity_yaml
from tests.support.slack_api import admin_of


@pytest.fixture
def api(ctx: Context) -> Iterator[TestClient]:
    with TestClient(make_app(lambda: ctx, runner=InlineRunner())) as client:
        yield client


def _token(ctx: Context, email: str) -> dict[str, str]:
    admin = admin_of(ctx)
    with reading(ctx.engine) as session:
        known = session.exec(select(Person).where(Person.email == email)).first()
    if known is None:
        people.add_person(ctx, email, by=admin)
    return {"Authorization": f"Bearer {people.issue_token(ctx, email, by=admin)}"}


def _events(ctx: Context) -> int:
    with reading(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def _upload(path: Path) -> dict[str, str]:
    return {
        "filename": path.name,
        "content_base64": base64.b64encode(path.read_bytes()).decode(),
    }


def test_every_command_has_a_handler_and_a_result_model() -> None:
    assert handled() == frozenset(COMMANDS) == frozenset(RESULTS)


def test_the_openapi_document_names_every_command(api: TestClient) -> None:
    reply = api.get("/api/v1/openapi.json")
    assert reply.status_code == 200
    paths = reply.json()["paths"]
    for name in COMMANDS:
        assert f"/api/v1/commands/{name}" in paths
    assert "/api/v1/bids/{ref}" in paths


def test_a_bid_is_created_decided_and_read_through_the_api(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    bm = _token(ctx, PEOPLE["bid_manager"])
    yaml_file = opportunity_yaml(ctx, tmp_path / "rfp.yaml")
    created = api.post(
        "/api/v1/commands/opportunity.create", json={"file": _upload(yaml_file)}, headers=bm
    )
    assert created.status_code == 200, created.text
    ref = created.json()["opportunity"]
    assert created.json()["command"] == "opportunity.create"

    sites = tmp_path / "sites.csv"
    sites.write_text(
        "site_id,name,country,city,postcode,address,access,bandwidth_mbps\n"
        "S1,HQ,BE,Brussels,1000,Rue Neuve 1,fiber,100\n",
        encoding="utf-8",
    )
    imported = api.post(
        "/api/v1/commands/sites.import",
        json={"opportunity": ref, "file": _upload(sites)},
        headers=bm,
    )
    assert imported.status_code in (200, 400), imported.text
    advanced = api.post("/api/v1/commands/advance", json={"opportunity": ref}, headers=bm)
    assert advanced.status_code == 200, advanced.text
    assert advanced.json()["state"] == "qualification"

    decided = api.post(
        "/api/v1/commands/decide",
        json={"opportunity": ref, "outcome": "bid", "reason": "strong fit"},
        headers=bm,
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["from_state"] == "qualification" and body["moved"] is True
    assert body["state"] == "kick_off"
    status = api.get(f"/api/v1/bids/{ref}", headers=bm).json()
    assert status["state"] in ("kick_off", "bid_production")
    assert any(row["id"] == ref for row in api.get("/api/v1/bids", headers=bm).json())
    trail = api.get(f"/api/v1/bids/{ref}/history", headers=bm).json()
    assert any(row["actor"] == PEOPLE["bid_manager"] for row in trail)


BAD: list[tuple[str, str, Any, int, str]] = [
    ("unknown command", "/api/v1/commands/launch", {"opportunity": "OPP-0001"}, 404, "unknown"),
    ("wrong type", "/api/v1/commands/approve", {"opportunity": "OPP-0001", "area": 7}, 422, "area"),
    ("extra field", "/api/v1/commands/advance", {"opportunity": "OPP-0001", "x": 1}, 422, "x"),
    ("bad outcome", "/api/v1/commands/decide", {"opportunity": "OPP-1", "outcome": "go"}, 422, ""),
    ("not json", "/api/v1/commands/advance", "{nope", 422, "JSON"),
    ("bad base64", "/api/v1/commands/opportunity.create",
     {"file": {"filename": "a.yaml", "content_base64": "***"}}, 422, "base64"),
    ("a path as name", "/api/v1/commands/opportunity.create",
     {"file": {"filename": "../../.bid/admin.token", "content_base64": ""}}, 422, "folders"),
    ("unknown bid", "/api/v1/commands/advance", {"opportunity": "OPP-9999"}, 404, "OPP-9999"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "url", "body", "code", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_4xx_with_one_line_and_changes_nothing(
    api: TestClient, ctx: Context, what: str, url: str, body: Any, code: int, fragment: str
) -> None:
    new_bid(ctx)
    headers = _token(ctx, PEOPLE["bid_manager"])
    before = _events(ctx)
    if isinstance(body, str):
        reply = api.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
    else:
        reply = api.post(url, json=body, headers=headers)
    assert reply.status_code == code, reply.text
    error = reply.json()["error"]
    assert "\n" not in error and fragment in error
    assert "Traceback" not in reply.text
    assert _events(ctx) == before


def test_no_token_no_command_and_no_reading(api: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    before = _events(ctx)
    for reply in (
        api.post("/api/v1/commands/advance", json={"opportunity": ref}),
        api.post(
            "/api/v1/commands/advance",
            json={"opportunity": ref},
            headers={"Authorization": "Bearer not-a-token"},
        ),
        api.get(f"/api/v1/bids/{ref}"),
        api.get("/api/v1/bids"),
    ):
        assert reply.status_code == 401, reply.text
        assert "token" in reply.json()["error"]
    assert _events(ctx) == before


def test_another_persons_bid_is_403_and_unchanged(api: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    outsider = _token(ctx, "outsider@example.com")
    before = _events(ctx)
    reply = api.post(
        "/api/v1/commands/advance",
        json={"opportunity": ref, "by": PEOPLE["bid_manager"]},
        headers=outsider,
    )
    assert reply.status_code == 403, reply.text
    reply = api.post("/api/v1/commands/advance", json={"opportunity": ref}, headers=outsider)
    assert reply.status_code == 403, reply.text
    assert "outsider@example.com" in reply.json()["error"]
    with reading(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    kept = events[before:]
    assert [(e.actor, e.from_state == e.to_state) for e in kept] == [
        ("outsider@example.com", True)
    ]  # the refusal is on the bid's trail; nothing moved
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.state)).one() == "pre_qualification"


def test_a_file_with_problems_names_the_callers_file_and_row(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    headers = _token(ctx, PEOPLE["bid_manager"])
    bad = tmp_path / "rfp.yaml"
    bad.write_text("title: [unclosed\n", encoding="utf-8")
    reply = api.post(
        "/api/v1/commands/opportunity.create", json={"file": _upload(bad)}, headers=headers
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error.startswith("rfp.yaml") and "bid-upload" not in error and "/tmp" not in error
    with reading(ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(Opportunity)).one() == 0
