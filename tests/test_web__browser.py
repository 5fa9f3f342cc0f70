"""The web workspace used as people use it, in Debian's Chromium (Playwright).

The bid manager signs in with their access token, creates a bid from the form with its site
list (a bad file first: its problems show row by row and nothing is saved), advances it and
decides to bid, freezes the design once production's quotes are in; the finance approver
signs in with a one-time link and approves from the inbox, the legal approver rejects with a
reason. Each step is checked in the
database. Every page is screenshotted (to `BID_SCREENSHOTS`, else the test's tmp folder), and
axe-core finds no serious or critical accessibility violation on the main pages.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import func, select

from orchestrator.bid.team import people
from orchestrator.cli.web import issue_link
from orchestrator.context import Context
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading
from orchestrator.store.models import Approval, Grant, Opportunity, Person, Site
from orchestrator.web.app import make_web_app
from tests.factories import APPROVERS, PEOPLE, order_details, quote_file
from tests.support.prefect_server import free_port
from tests.support.slack_api import admin_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "support" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

GOOD_SITES = (
    "site_id,name,street,postcode,city,country,bandwidth_mbps,access\n"
    "S1,HQ,Rue Neuve 1,1000,Brussels,BE,100,fiber\n"
    "S2,Depot,Main Street 2,1012 AB,Amsterdam,NL,100,fiber\n"
    "S3,Store,Kaiserstrasse 3,60311,Frankfurt,DE,50,fiber\n"
)
BAD_SITES = (
    GOOD_SITES
    + "S4,Shed,Road 4,1000,Brussels,XX,100,fiber\nS1,Again,Road 5,1000,Brussels,BE,100,fiber\n"
)


@pytest.fixture
def workspace(ctx: Context) -> Iterator[str]:
    """The workspace served on a free port of 127.0.0.1, as `bid server` serves it."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    yield from serve_workspace(ctx)


def serve_workspace(ctx: Context) -> Iterator[str]:
    """Serve the workspace over `ctx` on a free port until the generator is closed."""
    port = free_port()
    app = make_web_app(lambda: ctx, runner=InlineRunner())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the workspace did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BID_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _state(ctx: Context) -> str:
    with reading(ctx.engine) as session:
        return str(session.exec(select(Opportunity.state)).one())


def _count(ctx: Context, model: type) -> int:
    with reading(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _no_serious_violation(page: Any, where: str) -> None:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # through the debugger: not the page's CSP
    result = page.evaluate("async () => await window.axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{where}: {bad}"


def test_a_bid_from_the_form_to_an_approval_in_the_browser(
    workspace: str, ctx: Context, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin = admin_of(ctx)
    for email in PEOPLE.values():
        people.add_person(ctx, email, by=admin)
    # approval powers come from the organisation (issue 23): a bid's creator names a team, an
    # admin grants the approvers
    for grant in (Grant.FINANCE, Grant.LEGAL, Grant.MANAGEMENT):
        people.grant(ctx, PEOPLE[grant.value], grant, by=admin)
    token = people.issue_token(ctx, PEOPLE["bid_manager"], by=admin)
    shots = _shots(tmp_path)
    bad_file, good_file = tmp_path / "sites-bad.csv", tmp_path / "sites.csv"
    bad_file.write_text(BAD_SITES, encoding="utf-8")
    good_file.write_text(GOOD_SITES, encoding="utf-8")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        try:
            # sign in as the bid manager
            page.goto(f"{workspace}/bids")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            _no_serious_violation(page, "sign-in")
            page.screenshot(path=str(shots / "01-signin.png"), full_page=True)
            page.get_by_label("Access token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Bids")).to_be_visible()
            _no_serious_violation(page, "bid list")

            # a new bid: a bad site list first
            page.get_by_role("link", name="New bid").first.click()
            expect(page.get_by_role("heading", name="New bid")).to_be_visible()
            _no_serious_violation(page, "new bid")
            page.locator("#f-account").fill("Acme <b>Logistics</b>")
            page.get_by_label("Account tier").select_option("top")
            page.get_by_label("Title").fill("Managed WAN for 40 warehouses")
            page.get_by_label("Source").select_option("rfp")
            page.get_by_label("RFP reference").fill("ACME-RFP-77")
            deadline = ctx.clock().date().replace(year=ctx.clock().year + 1).isoformat()
            page.get_by_label("Submission deadline").fill(deadline)
            page.get_by_label("Strategic fit").select_option("high")
            page.get_by_label("Service strategy").select_option("sla")
            page.get_by_label("Short term").fill("300000")
            page.get_by_label("Medium term").fill("500000")
            page.get_by_label("Budget (EUR)").fill("1500000")
            page.get_by_label("Authority").select_option("decision_maker")
            page.locator("#f-need").select_option("clear")
            page.get_by_label("Timeframe (months)").fill("6")
            page.get_by_label("Sales ready").select_option("yes")
            for role, email in PEOPLE.items():
                label = role.replace("_", " ").capitalize()
                page.get_by_label(label, exact=True).select_option(email)
            page.get_by_label("Sites (.csv)").set_input_files(str(bad_file))
            page.get_by_role("button", name="Create the bid").click()
            problems = page.locator("ul.problems li")
            expect(problems.first).to_be_visible()
            texts = problems.all_inner_texts()
            assert any("row 5" in line and "country" in line for line in texts), texts
            assert any("row 6" in line and "duplicate site id" in line for line in texts), texts
            page.screenshot(path=str(shots / "02-new-bid-bad-file.png"), full_page=True)
            assert _count(ctx, Opportunity) == 0 and _count(ctx, Site) == 0

            # the same form (kept as typed), the good file
            expect(page.get_by_label("Title")).to_have_value("Managed WAN for 40 warehouses")
            page.get_by_label("Sites (.csv)").set_input_files(str(good_file))
            page.get_by_role("button", name="Create the bid").click()
            expect(page.locator(".flash.ok")).to_contain_text("imported 3 sites")
            assert _count(ctx, Opportunity) == 1 and _count(ctx, Site) == 3
            with reading(ctx.engine) as session:
                ref = session.exec(select(Opportunity)).one().ref
            expect(page.locator('[aria-current="step"]')).to_contain_text("Pre-qualification")
            page.screenshot(path=str(shots / "03-bid-created.png"), full_page=True)

            # advance, then decide
            page.get_by_role("button", name="Advance").click()
            expect(page.locator('[aria-current="step"]')).to_contain_text("Qualification")
            assert _state(ctx) == "qualification"
            page.get_by_label("Bid", exact=True).check()
            page.get_by_label("Reason for the decision").fill("A strong fit for our managed WAN")
            page.get_by_role("button", name="Record the decision").click()
            expect(page.locator(".flash.ok")).to_be_visible()
            assert _state(ctx) == "bid_production"
            _no_serious_violation(page, "bid page")
            page.screenshot(path=str(shots / "04-bid-production.png"), full_page=True)

            # production's quotes come in (the quotes pages are not built yet), then freeze
            _quotes_in(ctx, ref)
            page.reload()
            page.get_by_role("button", name="Freeze").click()
            expect(page.locator(".flash")).to_contain_text("frozen")
            expect(page.locator(".flash.error")).to_have_count(0)
            page.get_by_role("button", name="Advance").click()
            expect(page.locator('[aria-current="step"]')).to_contain_text("Governance review")
            assert _state(ctx) == "governance_review"
            page.screenshot(path=str(shots / "05-governance.png"), full_page=True)

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

            # the finance approver: a one-time link, the inbox, approve
            link = issue_link(ctx, APPROVERS["financial"], by=admin)
            page.goto(f"{workspace}/signin/link?token={link}")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Approvals").click()
            expect(page.get_by_role("heading", name="Your approvals")).to_be_visible()
            card = page.locator("article.approval", has_text="financial")
            expect(card).to_have_count(1)
            _no_serious_violation(page, "approvals")
            page.screenshot(path=str(shots / "06-approvals.png"), full_page=True)
            card.get_by_role("button", name="Approve financial").click()
            expect(page.locator(".flash.ok")).to_contain_text("financial: approved")
            expect(page.locator("article.approval", has_text="financial")).to_have_count(0)
            page.screenshot(path=str(shots / "07-approved.png"), full_page=True)
            with reading(ctx.engine) as session:
                finance = session.exec(
                    select(Person).where(Person.email == APPROVERS["financial"])
                ).one()
                granted = session.exec(select(Approval).where(Approval.area == "financial")).all()
            assert [(a.status, a.approver_id) for a in granted] == [("granted", finance.id)]

            # the legal approver rejects, with a reason: the bid goes back to production
            page.get_by_role("button", name="Sign out").click()
            legal_token = people.issue_token(ctx, APPROVERS["legal"], by=admin)
            page.get_by_label("Access token").fill(legal_token)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Approvals").click()
            card = page.locator("article.approval", has_text="legal")
            card.get_by_label("Reason (needed to reject)").fill("Clause 12 <unlimited> liability")
            card.get_by_role("button", name="Reject").click()
            expect(page.locator(".flash.ok")).to_contain_text("legal: rejected")
            with reading(ctx.engine) as session:
                legal = session.exec(select(Approval).where(Approval.area == "legal")).one()
            assert (legal.status, legal.reason) == ("rejected", "Clause 12 <unlimited> liability")
            assert _state(ctx) == "bid_production"
            page.goto(f"{workspace}/bids/{ref}")
            expect(page.locator(".trail")).to_contain_text("Clause 12 <unlimited> liability")
            page.screenshot(path=str(shots / "07b-rejected.png"), full_page=True)

            # the bid page on a phone
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{workspace}/bids/{ref}")
            page.screenshot(path=str(shots / "08-bid-phone.png"), full_page=True)
            page.goto(f"{workspace}/bids?scope=all")
            page.screenshot(path=str(shots / "09-list-phone.png"), full_page=True)

            # the list filters as one types (htmx swaps the rows in, no reload)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.get_by_label("Search").fill("no such bid")
            expect(page.get_by_text("No bid matches.")).to_be_visible()
            page.get_by_label("Search").fill("acme-rfp-77")
            expect(page.get_by_role("link", name=ref)).to_be_visible()
            assert refused == [], refused  # no script or style refused by the page's CSP
        finally:
            page.screenshot(path=str(shots / "last.png"), full_page=True)
            browser.close()
    assert (shots / "06-approvals.png").stat().st_size > 0


def _quotes_in(ctx: Context, ref: str) -> None:
    """Bid production's work done outside the workspace (QRFs sent, firm quotes imported)."""
    from orchestrator.bid.producing.quotes import import_quotes
    from orchestrator.bid.producing.sourcing import send_quote_requests

    send_quote_requests(ctx, ref, None, actor=PEOPLE["sales_support"])
    answer = ctx.output_dir_for(ref) / "quotes-firm.csv"
    quote_file(ctx, ref, answer, cost_share=0.4, valid_days=400)  # outlasts the offer
    import_quotes(ctx, ref, answer, actor=PEOPLE["sales_support"])
    order_details(ctx, ref)
