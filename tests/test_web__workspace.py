"""The web workspace's rules, through its HTTP face (FastAPI's TestClient): no page or action
without a session, no form without its CSRF token, nobody deciding another's approval, no
file taken that is not what it claims, markup shown as text — and every refusal changes
nothing in the database."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from orchestrator.bid.team import people
from orchestrator.bid.team.people import authenticate
from orchestrator.cli.web import issue_link
from orchestrator.context import Context
from orchestrator.errors import NotAuthenticated
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading
from orchestrator.store.models import Approval, AuditEvent, Credential, Opportunity, Person, Site
from orchestrator.web.app import COOKIE, make_web_app
from orchestrator.web.auth import SECRET_FILE
from orchestrator.web.uploads import MAX_SITE_FILE_BYTES
from tests.conftest import FixedClock
from tests.factories import APPROVERS, PEOPLE, carry_to_governance, new_bid
from tests.support.slack_api import admin_of

GOOD_SITES = (
    "site_id,name,street,postcode,city,country,bandwidth_mbps,access\n"
    "S1,HQ,Rue Neuve 1,1000,Brussels,BE,100,fiber\n"
    "S2,Depot,Main Street 2,1012 AB,Amsterdam,NL,100,fiber\n"
)


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    with TestClient(make_web_app(lambda: ctx, runner=InlineRunner())) as client:
        yield client


def _person(ctx: Context, email: str) -> Person:
    admin = admin_of(ctx)
    with reading(ctx.engine) as session:
        known = session.exec(select(Person).where(Person.email == email)).first()
    return known or people.add_person(ctx, email, by=admin)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def sign_in(client: TestClient, ctx: Context, email: str) -> str:
    """Sign in with a fresh access token; returns the session's CSRF token."""
    _person(ctx, email)
    token = people.issue_token(ctx, email, by=admin_of(ctx))
    client.cookies.clear()
    page = client.get("/signin")
    reply = client.post(
        "/signin",
        data={"csrf": csrf(page.text), "token": token, "next": "/bids"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return csrf(client.get("/bids").text)


def _count(ctx: Context, model: type) -> int:
    with reading(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _new_bid_form(**overrides: str) -> dict[str, str]:
    form = {
        "account": "Acme Logistics",
        "tier": "top",
        "title": "Managed WAN for 40 warehouses",
        "source": "rfp",
        "rfp_reference": "ACME-RFP-WEB",
        "submission_deadline": "2027-03-01",
        "services": "managed_network",
        "strategic_fit": "high",
        "currency": "EUR",
        "revenue_short": "300000",
        "revenue_medium": "500000",
        "revenue_long": "400000",
        "budget_eur": "1500000",
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": "6",
        "sales_ready": "yes",
        **{f"team_{role}": email for role, email in PEOPLE.items()},
    }
    form.update(overrides)
    return form


def _everyone(ctx: Context) -> None:
    for email in PEOPLE.values():
        _person(ctx, email)


# --- sessions ---------------------------------------------------------------------------------


def test_no_page_and_no_action_without_a_session(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    before = _count(ctx, AuditEvent)
    for path in ("/bids", f"/bids/{ref}", "/bids/new", "/approvals", f"/bids/{ref}/files/x.txt"):
        reply = web.get(path, follow_redirects=False)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/signin?next=")
    for path in (f"/bids/{ref}/advance", "/bids/new", f"/approvals/{ref}/financial"):
        reply = web.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert reply.status_code == 401, path
    assert _count(ctx, AuditEvent) == before


def test_the_session_cookie_is_signed_httponly_and_samesite(web: TestClient, ctx: Context) -> None:
    _person(ctx, PEOPLE["bid_manager"])
    token = people.issue_token(ctx, PEOPLE["bid_manager"], by=admin_of(ctx))
    page = web.get("/signin")
    reply = web.post(
        "/signin", data={"csrf": csrf(page.text), "token": token}, follow_redirects=False
    )
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    secret = ctx.settings.data_dir / SECRET_FILE
    assert secret.stat().st_mode & 0o777 == 0o600
    # a cookie that was not signed with the folder's secret is nobody
    web.cookies.clear()
    web.cookies.set(COOKIE, cookie.split(";")[0].split("=", 1)[1][:-4] + "AAAA")
    assert web.get("/bids", follow_redirects=False).status_code == 303


def test_a_wrong_token_does_not_sign_in(web: TestClient, ctx: Context) -> None:
    page = web.get("/signin")
    reply = web.post("/signin", data={"csrf": csrf(page.text), "token": "bid_nope"})
    assert reply.status_code == 401
    assert "unknown access token" in reply.text
    assert web.get("/bids", follow_redirects=False).status_code == 303


def test_a_link_signs_in_once_and_never_as_a_token(
    web: TestClient, ctx: Context, clock: FixedClock
) -> None:
    person = _person(ctx, PEOPLE["finance"])
    token = issue_link(ctx, person.email, by=admin_of(ctx))
    with pytest.raises(NotAuthenticated):
        authenticate(ctx, token)  # a link is not an access token
    page = web.get("/signin/link", params={"token": token})
    assert page.status_code == 200 and token in page.text
    reply = web.post(
        "/signin/link", data={"csrf": csrf(page.text), "token": token}, follow_redirects=False
    )
    assert reply.status_code == 303
    assert person.name in web.get("/bids").text
    web.cookies.clear()
    page = web.get("/signin/link", params={"token": token})
    again = web.post("/signin/link", data={"csrf": csrf(page.text), "token": token})
    assert again.status_code == 401 and "already used" in again.text

    late = issue_link(ctx, person.email, by=admin_of(ctx))
    clock.advance(minutes=16)
    page = web.get("/signin/link", params={"token": late})
    expired = web.post("/signin/link", data={"csrf": csrf(page.text), "token": late})
    assert expired.status_code == 401 and "expired" in expired.text


def test_only_an_admin_issues_links(ctx: Context) -> None:
    from orchestrator.errors import NotPermitted

    finance = _person(ctx, PEOPLE["finance"])
    with pytest.raises(NotPermitted):
        issue_link(ctx, finance.email, by=finance)


def test_after_sign_in_only_a_local_page(web: TestClient, ctx: Context) -> None:
    _person(ctx, PEOPLE["bid_manager"])
    token = people.issue_token(ctx, PEOPLE["bid_manager"], by=admin_of(ctx))
    page = web.get("/signin")
    reply = web.post(
        "/signin",
        data={"csrf": csrf(page.text), "token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert reply.headers["location"] == "/bids"


# --- CSRF -------------------------------------------------------------------------------------


def test_a_form_without_the_sessions_csrf_token_is_403_and_changes_nothing(
    web: TestClient, ctx: Context
) -> None:
    ref = new_bid(ctx)
    sign_in(web, ctx, PEOPLE["bid_manager"])
    before = _count(ctx, AuditEvent)
    for data in ({}, {"csrf": ""}, {"csrf": "not-the-token"}):
        reply = web.post(f"/bids/{ref}/advance", data=data)
        assert reply.status_code == 403, data
        assert "did not come from this workspace" in reply.text
    reply = web.post("/bids/new", data=_new_bid_form(), files={"sites": ("s.csv", GOOD_SITES)})
    assert reply.status_code == 403
    assert _count(ctx, AuditEvent) == before
    assert _count(ctx, Opportunity) == 1
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.state)).one() == "pre_qualification"


# --- actions through the pipeline ---------------------------------------------------------------


def test_the_buttons_send_the_pipelines_commands(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    page = web.get(f"/bids/{ref}")
    assert 'aria-current="step"' in page.text and "Pre-qualification" in page.text
    moved = web.post(f"/bids/{ref}/advance", data={"csrf": token})
    assert moved.status_code == 200 and "qualification" in moved.text
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.state)).one() == "qualification"
    decided = web.post(
        f"/bids/{ref}/decide", data={"csrf": token, "outcome": "bid", "reason": "strong fit"}
    )
    assert decided.status_code == 200
    with reading(ctx.engine) as session:
        state = session.exec(select(Opportunity.state)).one()
        event = session.exec(select(AuditEvent).where(AuditEvent.trigger == "decide_bid")).one()
    assert state in ("kick_off", "bid_production")
    assert event.actor == PEOPLE["bid_manager"]  # the session's person, never a form field


def test_a_refused_action_shows_the_one_line_and_changes_nothing(
    web: TestClient, ctx: Context
) -> None:
    ref = new_bid(ctx)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    before = _count(ctx, AuditEvent)
    reply = web.post(f"/bids/{ref}/decide", data={"csrf": token, "outcome": "bid", "reason": "x"})
    assert reply.status_code == 200
    assert "pre_qualification" in reply.text and 'class="flash error"' in reply.text
    missing = web.post(f"/bids/{ref}/withdraw", data={"csrf": token, "reason": "x"})
    assert "category" in missing.text
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.state)).one() == "pre_qualification"
    assert _count(ctx, AuditEvent) >= before  # a refusal may be on the trail; nothing moved


def test_a_person_without_a_role_is_refused_403(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    token = sign_in(web, ctx, "outsider@example.com")
    reply = web.post(f"/bids/{ref}/advance", data={"csrf": token})
    assert reply.status_code == 403 and "outsider@example.com" in reply.text
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.state)).one() == "pre_qualification"


# --- the approvals inbox ---------------------------------------------------------------------


def _requested(ctx: Context) -> dict[str, str]:
    with reading(ctx.engine) as session:
        return {a.area: a.status for a in session.exec(select(Approval)).all()}


def test_an_approver_decides_only_their_own_approval(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    pending = _requested(ctx)
    assert "financial" in pending and pending["financial"] == "requested"

    token = sign_in(web, ctx, APPROVERS["legal"])
    inbox = web.get("/approvals").text
    assert "Approve financial" not in inbox
    reply = web.post(f"/approvals/{ref}/financial", data={"csrf": token})
    assert reply.status_code == 403
    assert _requested(ctx)["financial"] == "requested"

    token = sign_in(web, ctx, APPROVERS["financial"])
    inbox = web.get("/approvals").text
    assert "Approve financial" in inbox
    with reading(ctx.engine) as session:
        version = session.exec(select(Opportunity.proposal_hash)).one() or ""
    assert version[:12] in inbox
    stale = web.post(
        f"/approvals/{ref}/financial", data={"csrf": token, "version": "deadbeefdeadbeef"}
    )
    assert "outdated proposal version" in stale.text
    assert _requested(ctx)["financial"] == "requested"
    done = web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "version": version, "verdict": "approve"},
    )
    assert done.status_code == 200
    assert _requested(ctx)["financial"] == "granted"
    assert "Approve financial" not in web.get("/approvals").text  # it left the inbox


def test_a_rejection_needs_a_reason(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    token = sign_in(web, ctx, APPROVERS["financial"])
    reply = web.post(f"/approvals/{ref}/financial", data={"csrf": token, "verdict": "reject"})
    assert "needs a reason" in reply.text
    assert _requested(ctx)["financial"] == "requested"
    web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "verdict": "reject", "reason": "margin too thin"},
    )
    assert _requested(ctx)["financial"] == "rejected"


# --- uploads ------------------------------------------------------------------------------------


def test_a_new_bid_from_the_form_and_its_site_list(web: TestClient, ctx: Context) -> None:
    _everyone(ctx)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    reply = web.post(
        "/bids/new",
        data={"csrf": token, **_new_bid_form()},
        files={"sites": ("sites.csv", GOOD_SITES.encode())},
    )
    assert reply.status_code == 200, reply.text
    assert "imported 2 sites" in reply.text
    with reading(ctx.engine) as session:
        opportunity = session.exec(select(Opportunity)).one()
        assert opportunity.rfp_reference == "ACME-RFP-WEB"
        assert opportunity.bants["budget_eur"] == 1_500_000
    assert _count(ctx, Site) == 2


def _zip_bytes() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


BAD_FILES = [
    ("a zip renamed .csv", "sites.csv", _zip_bytes(), "is named .csv but is a ZIP archive"),
    ("a formula", "sites.csv",
     (GOOD_SITES + 'S3,"=HYPERLINK(""http://x"")",Road 3,1000,Brussels,BE,100,fiber\n').encode(),
     "sites.csv, row 4, field 'name': is a spreadsheet formula"),
    ("over the limit", "sites.csv",
     GOOD_SITES.encode() + b"#" * (MAX_SITE_FILE_BYTES + 1), "a site list is limited to"),
    ("not a csv", "sites.txt", GOOD_SITES.encode(), "a site list is a .csv file"),
    ("a bad row", "sites.csv",
     (GOOD_SITES + "S3,Shed,Road 3,1000,Brussels,XX,100,fiber\n").encode(), "row 4"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "name", "content", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_saved(
    web: TestClient, ctx: Context, what: str, name: str, content: bytes, reason: str
) -> None:
    _everyone(ctx)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    before = _count(ctx, AuditEvent)
    reply = web.post(
        "/bids/new",
        data={"csrf": token, **_new_bid_form(title="Kept as typed")},
        files={"sites": (name, content)},
    )
    assert reply.status_code == 400, reply.text[:300]
    assert reason in reply.text.replace("&#39;", "'")
    assert "nothing was saved" in reply.text
    assert 'value="Kept as typed"' in reply.text  # the form keeps what was typed
    assert _count(ctx, Opportunity) == 0 and _count(ctx, Site) == 0
    assert _count(ctx, AuditEvent) == before


def test_a_form_missing_a_bants_field_creates_nothing(web: TestClient, ctx: Context) -> None:
    _everyone(ctx)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    reply = web.post(
        "/bids/new",
        data={"csrf": token, **_new_bid_form(authority="")},
        files={"sites": ("sites.csv", GOOD_SITES.encode())},
    )
    assert reply.status_code == 400
    assert "bants.authority" in reply.text
    assert _count(ctx, Opportunity) == 0


# --- what is shown ------------------------------------------------------------------------------


def test_markup_in_any_field_shows_as_text(web: TestClient, ctx: Context) -> None:
    markup = '<script>alert("x")</script><b>bold</b>'
    ref = new_bid(ctx, title=f"WAN {markup}", account={"name": f"Acme {markup}", "tier": "top"})
    sign_in(web, ctx, PEOPLE["bid_manager"])
    for path in ("/bids?scope=all", f"/bids/{ref}"):
        page = web.get(path).text
        assert "<script>alert" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page


def test_the_list_filters_mine_state_and_search(web: TestClient, ctx: Context) -> None:
    first = new_bid(ctx, title="Hosting for Globex", rfp_reference="GLOBEX-7")
    second = new_bid(ctx, title="WAN for Initech", team={"bid_manager": "other@example.com"})
    sign_in(web, ctx, PEOPLE["bid_manager"])
    mine = web.get("/bids").text
    assert first in mine and second not in mine
    everyone = web.get("/bids?scope=all").text
    assert first in everyone and second in everyone
    found = web.get("/bids?scope=all&search=globex-7").text
    assert first in found and second not in found
    partial = web.get(
        "/bids?scope=all&search=initech", headers={"HX-Request": "true", "HX-Target": "bid-rows"}
    )
    assert partial.text.lstrip().startswith('<tbody id="bid-rows">') and second in partial.text
    assert "No bid matches" in web.get("/bids?scope=all&state=lost").text
    from orchestrator.web.queries import list_rows

    manager = _person(ctx, PEOPLE["bid_manager"])
    rows = {row["ref"]: row for row in list_rows(ctx, manager, mine=True)}
    assert rows[first]["bid_manager"] == manager.name and second not in rows


# --- downloads ----------------------------------------------------------------------------------


def test_documents_download_by_name_for_the_team_only(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    sign_in(web, ctx, PEOPLE["bid_manager"])
    page = web.get(f"/bids/{ref}").text
    assert "proposal.txt" in page and str(ctx.output_dir_for(ref)) not in page
    reply = web.get(f"/bids/{ref}/files/proposal.txt")
    assert reply.status_code == 200
    assert reply.content == (ctx.output_dir_for(ref) / "proposal.txt").read_bytes()
    assert "attachment" in reply.headers["content-disposition"]
    for name in ("nothing.txt", "..%2F..%2Fbid.db", "%2E%2E"):
        assert web.get(f"/bids/{ref}/files/{name}").status_code == 404, name
    sign_in(web, ctx, "outsider@example.com")
    assert web.get(f"/bids/{ref}/files/proposal.txt").status_code == 403
    assert "proposal.txt" not in web.get(f"/bids/{ref}").text


def test_a_file_outside_the_bids_folder_is_not_served(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.store.db import transaction
    from orchestrator.store.models import Document

    ref = new_bid(ctx)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    with transaction(ctx.engine) as session:
        opportunity = session.exec(select(Opportunity)).one()
        session.add(
            Document(
                opportunity_id=opportunity.id or 0,
                kind="proposal",
                name="secret",
                path=str(secret),
                content_hash="0" * 64,
            )
        )
    sign_in(web, ctx, PEOPLE["bid_manager"])
    assert web.get(f"/bids/{ref}/files/secret.txt").status_code == 404


def test_bid_people_link_prints_a_link_that_signs_in_once(
    web: TestClient, ctx: Context, run_cli: Any
) -> None:
    added = run_cli("people", "add", PEOPLE["legal"], "--name", "Lena Legal")
    assert added.code == 0, added.err
    made = run_cli("people", "link", PEOPLE["legal"], "--base-url", "http://ws.example:4300/")
    assert made.code == 0, made.err
    url = made.out.strip()
    assert url.startswith("http://ws.example:4300/signin/link?token=bidlink_")
    token = url.split("token=", 1)[1]
    with reading(ctx.engine) as session:
        stored = [c.token_hash for c in session.exec(select(Credential)).all()]
    assert token not in " ".join(stored) and any(h.startswith("link-") for h in stored)
    page = web.get("/signin/link", params={"token": token})
    reply = web.post("/signin/link", data={"csrf": csrf(page.text), "token": token})
    assert reply.status_code == 200 and "Lena Legal" in reply.text
    refused = run_cli("people", "link", "nobody@example.com")
    assert refused.code == 2 and "nobody@example.com" in refused.err


def test_the_verdict_and_a_withdrawal_from_the_bid_page(web: TestClient, ctx: Context) -> None:
    from tests.factories import grant_all, submit

    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    from orchestrator.bid.progress import services

    services.run_to_wait(ctx, ref)
    submit(ctx, ref)
    assert _state(ctx) == "customer_decision"
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    assert "Record the verdict" in web.get(f"/bids/{ref}").text
    no_reason = web.post(f"/bids/{ref}/result", data={"csrf": token, "outcome": "lost"})
    assert "lost needs a reason" in no_reason.text and _state(ctx) == "customer_decision"
    web.post(f"/bids/{ref}/result", data={"csrf": token, "outcome": "shortlisted"})
    assert _state(ctx) == "customer_decision"
    web.post(
        f"/bids/{ref}/withdraw",
        data={"csrf": token, "category": "timing", "reason": "the RFP was cancelled"},
    )
    assert _state(ctx) == "withdrawn"
    page = web.get(f"/bids/{ref}").text
    assert "Record the verdict" not in page and ">Advance<" not in page


def test_the_submission_and_a_hold_from_the_bid_page(web: TestClient, ctx: Context) -> None:
    from tests.factories import grant_all

    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    grant_all(ctx, ref)
    from orchestrator.bid.progress import services

    services.run_to_wait(ctx, ref)
    assert _state(ctx) == "submission"  # the approvals are in: a person sends the offer
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    assert "Record the submission" in web.get(f"/bids/{ref}").text
    events = _count(ctx, AuditEvent)
    bad = web.post(f"/bids/{ref}/submit", data={"csrf": token, "channel": "fax", "reference": "R"})
    assert "submit: channel" in bad.text and _state(ctx) == "submission"
    no_ref = web.post(f"/bids/{ref}/submit", data={"csrf": token, "channel": "portal"})
    assert "submit: reference" in no_ref.text and _count(ctx, AuditEvent) == events
    web.post(
        f"/bids/{ref}/submit",
        data={"csrf": token, "channel": "portal", "reference": "portal receipt 4711"},
    )
    assert _state(ctx) == "customer_decision"
    with reading(ctx.engine) as session:
        bid = session.exec(select(Opportunity)).one()
        assert (bid.submission_channel, bid.submission_reference) == (
            "portal",
            "portal receipt 4711",
        )
        assert bid.submitted_by == PEOPLE["bid_manager"]
    no_reason = web.post(f"/bids/{ref}/hold", data={"csrf": token, "until": "2027-12-01"})
    assert "hold: reason" in no_reason.text
    web.post(
        f"/bids/{ref}/hold",
        data={"csrf": token, "reason": "the customer paused the RFP", "until": "2027-12-01"},
    )
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.held_at)).one() is not None
    assert "on hold" in web.get(f"/bids/{ref}").text
    web.post(f"/bids/{ref}/resume", data={"csrf": token})
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity.held_at)).one() is None
    assert _state(ctx) == "customer_decision"  # nothing in it lost: it waits where it was


def _state(ctx: Context) -> str:
    with reading(ctx.engine) as session:
        return str(session.exec(select(Opportunity.state)).one())


def test_revoking_a_persons_tokens_ends_their_sessions(
    web: TestClient, ctx: Context, clock: FixedClock
) -> None:
    sign_in(web, ctx, PEOPLE["bid_manager"])
    assert web.get("/bids", follow_redirects=False).status_code == 200
    clock.advance(minutes=5)
    people.revoke_tokens(ctx, PEOPLE["bid_manager"], by=admin_of(ctx))
    assert web.get("/bids", follow_redirects=False).status_code == 303
    clock.advance(minutes=5)
    sign_in(web, ctx, PEOPLE["bid_manager"])  # a new token, a new session
    assert web.get("/bids", follow_redirects=False).status_code == 200


def test_a_body_over_the_limit_is_413_whether_it_says_its_length_or_not(ctx: Context) -> None:
    new_bid(ctx)
    app = make_web_app(lambda: ctx, runner=InlineRunner(), max_body_bytes=10_000)
    with TestClient(app) as client:
        token = sign_in(client, ctx, PEOPLE["bid_manager"])
        before = _count(ctx, AuditEvent)
        big = {"csrf": token, "note": "x" * 20_000}
        assert client.post("/bids/OPP-0001/advance", data=big).status_code == 413

        def chunks() -> Iterator[bytes]:
            yield f"csrf={token}&note=".encode()
            for _ in range(20):
                yield b"x" * 1_000

        reply = client.post(
            "/bids/OPP-0001/advance",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert reply.status_code == 413
        assert _count(ctx, AuditEvent) == before


def test_the_workspace_serves_as_a_child_process(tmp_path: Path) -> None:
    """`python -m orchestrator.web.server --port N`, as `bid server` starts it."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.support.prefect_server import free_port

    port = free_port()
    env = {
        **os.environ,
        "BID_DATABASE_URL": f"sqlite:///{tmp_path / 'bid.db'}",
        "BID_DATA_DIR": str(tmp_path / ".bid"),
        "BID_OUTPUT_DIR": str(tmp_path / "out"),
        "BID_FLOW_RUNNER": "inline",
        "BID_AUTOSTART": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.web.server", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the workspace did not answer"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/signin") as page:
            assert b"Access token" in page.read()
        assert (tmp_path / ".bid" / "web-session.key").stat().st_mode & 0o777 == 0o600
    finally:
        process.terminate()
        process.wait(timeout=30)
