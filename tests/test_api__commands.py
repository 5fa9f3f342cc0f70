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
from orchestrator.bid.team import people
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


# --- the typed edits, production, offer and questionnaire commands, over HTTP -------------------


def _in_production(ctx: Context) -> str:
    from orchestrator.bid.progress import services

    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="go")
    services.run_to_wait(ctx, ref)
    return ref


def _bid(ctx: Context, ref: str) -> Opportunity:
    from orchestrator.bid.progress import services

    with reading(ctx.engine) as session:
        return services.get_opportunity(session, ref)


def _trail(ctx: Context, ref: str) -> list[str]:
    with reading(ctx.engine) as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    return [row.trigger for row in rows]


def test_sites_are_changed_added_and_removed_through_the_api(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.store.models import Site

    ref = new_bid(ctx)
    bm = _token(ctx, PEOPLE["bid_manager"])
    update = tmp_path / "update.csv"
    update.write_text("site_id,postcode\nS0001,1012 NX\n", encoding="utf-8")
    reply = api.post(
        "/api/v1/commands/sites.update",
        json={"opportunity": ref, "file": _upload(update)},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["command"], body["opportunity"], body["file"]) == (
        "sites.update",
        ref,
        "update.csv",
    )
    assert body["updated"] == [{"site_id": "S0001", "fields": ["postcode"]}]
    assert body["counts"] == {"added": 0, "updated": 1, "removed": 0}
    with reading(ctx.engine) as session:
        site = session.exec(select(Site).where(Site.site_id == "S0001")).one()
        assert site.postcode == "1012 NX"

    remove = tmp_path / "remove.csv"
    remove.write_text("site_id\nS0002\n", encoding="utf-8")
    reply = api.post(
        "/api/v1/commands/sites.remove",
        json={"opportunity": ref, "file": _upload(remove)},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["removed"] == ["S0002"]

    bad = tmp_path / "add.csv"
    bad.write_text("site_id,name\nN1,Nowhere\n", encoding="utf-8")
    before = _events(ctx)
    reply = api.post(
        "/api/v1/commands/sites.add", json={"opportunity": ref, "file": _upload(bad)}, headers=bm
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error.startswith("add.csv") and "bid-upload" not in error
    assert _events(ctx) == before


def test_opportunity_update_with_an_addendum_through_the_api(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = new_bid(ctx)
    addendum = tmp_path / "addendum-1.pdf"
    addendum.write_bytes(b"%PDF-1.4 the customer's addendum")
    reply = api.post(
        "/api/v1/commands/opportunity.update",
        json={
            "opportunity": ref,
            "reason": "longer term",
            "contract_months": 48,
            "addendum": _upload(addendum),
        },
        headers=_token(ctx, PEOPLE["bid_manager"]),
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["changes"] == {"contract_months": 48, "addendum": "addendum-1.pdf"}
    assert _bid(ctx, ref).contract_months == 48
    kept = list((ctx.output_dir_for(ref) / "addenda").glob("*-addendum-1.pdf"))
    assert [path.read_bytes() for path in kept] == [addendum.read_bytes()]


def test_terms_and_pricing_through_the_api(api: TestClient, ctx: Context) -> None:
    ref = _in_production(ctx)
    bm = _token(ctx, PEOPLE["bid_manager"])
    reply = api.post(
        "/api/v1/commands/terms",
        json={"opportunity": ref, "deviations": ["payment in 60 days"]},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["deviations"], reply.json()["state"]) == (
        ["payment in 60 days"],
        "bid_production",
    )
    assert _trail(ctx, ref)[-1] == "terms_changed"

    reply = api.post(
        "/api/v1/commands/pricing",
        json={"opportunity": ref, "discount": 5, "monthly_price": {"fiber": 420}},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["changes"] == {"discount_pct": 5.0, "monthly_price": {"fiber": 420.0}}
    assert _trail(ctx, ref)[-1] == "prices_changed"

    before = _events(ctx)
    for body in (
        {"opportunity": ref},  # neither a discount nor a price
        {"opportunity": ref, "discount": "a lot"},
    ):
        reply = api.post("/api/v1/commands/pricing", json=body, headers=bm)
        assert reply.status_code == 422, reply.text
    reply = api.post("/api/v1/commands/terms", json={"opportunity": ref}, headers=bm)
    assert reply.status_code == 422 and "--standard" in reply.json()["error"]
    assert _events(ctx) == before

    # a price where the loss is: one site, with the reason kept beside it
    reply = api.post(
        "/api/v1/commands/pricing",
        json={"opportunity": ref, "site": "S0001", "monthly": 480, "reason": "dear carrier"},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert _bid(ctx, ref).pricing["line_price"] == {
        "site=S0001": {"monthly": 480.0, "by": PEOPLE["bid_manager"], "reason": "dear carrier"}
    }
    before = _events(ctx)
    for pricing, said in (
        ({"opportunity": ref, "site": "S0001", "monthly": 500}, "--reason"),
        ({"opportunity": ref, "site": "S9999", "monthly": 500, "reason": "r"}, "no ordered site"),
        ({"opportunity": ref, "site": "S0001", "monthly": -1, "reason": "r"}, "from 0 to"),
        ({"opportunity": ref, "band": "fiber:7", "monthly": 500, "reason": "r"}, "price band"),
    ):
        reply = api.post("/api/v1/commands/pricing", json=pricing, headers=bm)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert said in error and "\n" not in error, error
    assert _events(ctx) == before


def test_service_strategy_and_order_details_through_the_api(api: TestClient, ctx: Context) -> None:
    ref = _in_production(ctx)
    bm = _token(ctx, PEOPLE["bid_manager"])
    reply = api.post(
        "/api/v1/commands/service-strategy",
        json={"opportunity": ref, "strategy": "qos", "win_themes": ["fast repairs"]},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["strategy"], reply.json()["win_themes"]) == ("qos", ["fast repairs"])
    reply = api.post(
        "/api/v1/commands/order.details",
        json={"opportunity": ref, "purchase_order": "PO-77"},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["changes"] == {"purchase_order": "PO-77"}
    assert _bid(ctx, ref).purchase_order == "PO-77"


def test_a_questionnaire_is_uploaded_and_answered_through_the_api(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.store.models import Requirement

    ref = new_bid(ctx)
    bm = _token(ctx, PEOPLE["bid_manager"])
    questionnaire = tmp_path / "questionnaire.csv"
    questionnaire.write_text(
        "ID,Section,Requirement,Mandatory\n"
        "1,Network,Describe your SLA for fibre access,Y\n"
        "2,Security,Describe your security operations,N\n",
        encoding="utf-8",
    )
    reply = api.post(
        "/api/v1/commands/rfp.import",
        json={"opportunity": ref, "file": _upload(questionnaire)},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["file"], body["added"], body["requirements"], body["mandatory"]) == (
        "questionnaire.csv",
        2,
        2,
        1,
    )
    reply = api.post(
        "/api/v1/commands/rfp.answer",
        json={"opportunity": ref, "requirement": "1", "text": "99.9 %", "compliance": "comply"},
        headers=bm,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["answered"] == ["1"]
    with reading(ctx.engine) as session:
        answers = {r.req_id: r.answer for r in session.exec(select(Requirement))}
    assert answers == {"1": "99.9 %", "2": None}


def test_people_are_managed_by_an_admin_and_a_non_admin_grant_is_403(
    api: TestClient, ctx: Context
) -> None:
    admin = {
        "Authorization": f"Bearer {people.issue_token(ctx, admin_of(ctx).email, by=admin_of(ctx))}"
    }
    reply = api.post(
        "/api/v1/commands/people.add",
        json={"email": "newcomer@example.com", "name": "New Comer"},
        headers=admin,
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["email"], reply.json()["name"], reply.json()["added"]) == (
        "newcomer@example.com",
        "New Comer",
        True,
    )
    reply = api.post(
        "/api/v1/commands/people.grant",
        json={"email": "newcomer@example.com", "role": "legal"},
        headers=admin,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["granted"] is True

    bm = _token(ctx, PEOPLE["bid_manager"])
    before = _events(ctx)
    with reading(ctx.engine) as session:
        grants_before = {p.email: sorted(p.roles) for p in session.exec(select(Person))}
    for body in (
        {"email": PEOPLE["bid_manager"], "role": "admin"},
        {"email": "newcomer@example.com", "role": "finance"},
    ):
        reply = api.post("/api/v1/commands/people.grant", json=body, headers=bm)
        assert reply.status_code == 403, reply.text
        assert "\n" not in reply.json()["error"]
    reply = api.post(
        "/api/v1/commands/people.token", json={"email": PEOPLE["bid_manager"]}, headers=bm
    )
    assert reply.status_code == 403, reply.text
    with reading(ctx.engine) as session:
        grants_after = {p.email: sorted(p.roles) for p in session.exec(select(Person))}
    assert grants_after == grants_before and _events(ctx) == before


def test_an_account_tier_is_set_by_management_only_through_the_api(
    api: TestClient, ctx: Context
) -> None:
    from orchestrator.store.models import Account

    new_bid(ctx)
    with reading(ctx.engine) as session:
        account = session.exec(select(Account)).one()
        name, tier = account.name, account.tier
    body = {"account": name, "tier": "major", "reason": "smaller than thought"}
    before = _events(ctx)
    refused = api.post(
        "/api/v1/commands/account.set-tier", json=body, headers=_token(ctx, PEOPLE["bid_manager"])
    )
    assert refused.status_code == 403, refused.text
    with reading(ctx.engine) as session:
        assert session.exec(select(Account.tier)).one() == tier
    assert _events(ctx) == before
    admin = admin_of(ctx)
    headers = {"Authorization": f"Bearer {people.issue_token(ctx, admin.email, by=admin)}"}
    reply = api.post("/api/v1/commands/account.set-tier", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["from_tier"], reply.json()["to_tier"], reply.json()["changed"]) == (
        tier,
        "major",
        tier != "major",
    )
    with reading(ctx.engine) as session:
        assert session.exec(select(Account.tier)).one() == "major"


def test_quote_requests_are_written_in_the_bids_folder_through_the_api(
    api: TestClient, ctx: Context
) -> None:
    from orchestrator.store.models import QuoteRequest

    ref = _in_production(ctx)
    reply = api.post(
        "/api/v1/commands/qrf",
        json={"opportunity": ref},
        headers=_token(ctx, PEOPLE["bid_manager"]),
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    with reading(ctx.engine) as session:
        assert body["recorded"] == len(session.exec(select(QuoteRequest)).all()) > 0
    folder = ctx.output_dir_for(ref).resolve()
    paths = [Path(document["path"]).resolve() for document in body["documents"]]
    assert paths and all(path.is_file() and folder in path.parents for path in paths)
    assert body["unsourced"] == [] and body["problems"] == []


def test_the_answer_library_is_imported_from_an_upload_by_an_admin_only(
    api: TestClient, ctx: Context, tmp_path: Path
) -> None:
    library = tmp_path / "answers.yaml"
    library.write_bytes((ctx.settings.rules_dir / "answer_library.yaml").read_bytes())
    body = {"file": _upload(library)}
    refused = api.post(
        "/api/v1/commands/rfp.library.import", json=body, headers=_token(ctx, PEOPLE["bid_manager"])
    )
    assert refused.status_code == 403, refused.text
    admin = admin_of(ctx)
    headers = {"Authorization": f"Bearer {people.issue_token(ctx, admin.email, by=admin)}"}
    reply = api.post("/api/v1/commands/rfp.library.import", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["file"] == "answers.yaml" and data["added"] == data["entries"] > 0
    again = api.post("/api/v1/commands/rfp.library.import", json=body, headers=headers).json()
    assert (again["added"], again["unchanged"]) == (0, data["entries"])


def test_a_command_meant_for_another_folders_service_is_refused_and_changes_nothing(
    api: TestClient, ctx: Context
) -> None:
    from orchestrator.runtime.prefect_home import service_id

    own = service_id(ctx.settings, create=True)
    assert api.get("/api/v1/health").json() == {"status": "ok", "service_id": own}
    ref = new_bid(ctx)
    admin = _token(ctx, admin_of(ctx).email)
    before = _events(ctx)
    reply = api.post(
        "/api/v1/commands/advance",
        json={"opportunity": ref},
        headers={**admin, "X-Bid-Service": "f" * 32},
    )
    assert reply.status_code == 409, reply.text
    assert reply.headers["X-Bid-Service-Mismatch"] == "1"
    assert "not the bid service of the folder" in reply.json()["error"]
    assert _events(ctx) == before
    mine = api.post(
        "/api/v1/commands/advance",
        json={"opportunity": ref},
        headers={**admin, "X-Bid-Service": own or ""},
    )
    assert mine.status_code == 200, mine.text
    assert _events(ctx) > before
