"""The workspace's production, approval and management pages in Debian's Chromium (Playwright).

The bid manager answers the questionnaire (a suggestion edited, then accepted; the
"mandatory open" filter), sales support writes the QRFs and uploads a returned QRF (a bad
file first: its problems row by row, nothing saved; then the good one), the bid goes to
governance, the finance approver previews the proposal as a PDF and approves from the inbox;
a manager opens the funnel, forecast, monthly review, packs and portfolio pages and follows
a link to the bid. Each step is checked in the database, each page screenshotted (to
`BID_SCREENSHOTS`, else the test's tmp folder) on a laptop and a phone width, and axe-core
finds no serious or critical accessibility violation on any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize
from sqlmodel import select

from orchestrator.bid.progress import services
from orchestrator.bid.reports import queries
from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.pipeline import dispatch
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Approval,
    Grant,
    Opportunity,
    Person,
    Quote,
    QuoteImport,
    Requirement,
)
from tests.factories import APPROVERS, PEOPLE, grant_all, new_bid, order_details, quote_file
from tests.support.golden_rfp import write_questionnaire
from tests.support.slack_api import admin_of
from tests.test_web__browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _no_serious_violation,
    _shots,
    serve_workspace,
)


@pytest.fixture
def real_workspace(real_ctx: Context) -> Iterator[str]:
    """The workspace over a folder with the real document renderer (a .docx to preview)."""
    yield from serve_workspace(real_ctx)


PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 900}


def _setup(ctx: Context, tmp_path: Path) -> str:
    admin = admin_of(ctx)
    for email in PEOPLE.values():
        people.add_person(ctx, email, by=admin)
    for grant in (Grant.FINANCE, Grant.LEGAL, Grant.MANAGEMENT):
        people.grant(ctx, PEOPLE[grant.value], grant, by=admin)
    ref = new_bid(ctx, title="Managed WAN <i>for</i> 40 warehouses")
    with reading(ctx.engine) as session:
        bid_manager = session.exec(
            select(Person).where(Person.email == PEOPLE["bid_manager"])
        ).one()
    questionnaire = write_questionnaire(tmp_path / "rfp.xlsx")
    upload = c.FileUpload.of(questionnaire.name, questionnaire.read_bytes())
    dispatch(ctx, c.ImportRfp(opportunity=ref, file=upload), bid_manager, runner=InlineRunner())
    dispatch(ctx, c.ImportLibrary(starter=True), admin, runner=InlineRunner())
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    return ref


def _sign_in(page: object, workspace: str, token: str) -> None:
    page.goto(f"{workspace}/signin")  # type: ignore[attr-defined]
    page.get_by_label("Access token").fill(token)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def test_questionnaire_quotes_preview_and_managers_in_the_browser(
    real_workspace: str, real_ctx: Context, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    workspace, ctx = real_workspace, real_ctx
    ref = _setup(ctx, tmp_path)
    admin = admin_of(ctx)
    shots = _shots(tmp_path)
    good = quote_file(ctx, ref, tmp_path / "returned-qrf.csv", cost_share=0.4)
    lines = good.read_text(encoding="utf-8").splitlines()
    formula = tmp_path / "returned-formula.csv"
    formula.write_text("\n".join([lines[0], "=SUM(A1:A2)", *lines[1:]]), encoding="utf-8")
    bad = tmp_path / "returned-bad.csv"
    bad.write_text(
        "\n".join([lines[0], lines[1].replace(",firm,", ",maybe,"), lines[1], *lines[1:]]),
        encoding="utf-8",
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        try:
            # the bid manager: the questionnaire
            _sign_in(page, workspace, people.issue_token(ctx, PEOPLE["bid_manager"], by=admin))
            page.goto(f"{workspace}/bids/{ref}")
            page.get_by_role("link", name="Questionnaire").click()
            expect(page.get_by_role("heading", name=f"Questionnaire {ref}")).to_be_visible()
            card = page.locator("article#r-1\\.2")
            expect(card.locator("ul.suggestions li").first).to_contain_text("score")
            _no_serious_violation(page, "questionnaire")
            page.screenshot(path=str(shots / "p01-questionnaire.png"), full_page=True)
            box = card.get_by_label("Edit the suggestion, then accept")
            box.fill(box.input_value() + " Failover takes under 50 ms.")
            card.get_by_role("button", name="Accept 1.2").click()
            expect(page.locator(".flash.ok")).to_contain_text("1.2 answered")
            with reading(ctx.engine) as session:
                answered = session.exec(
                    select(Requirement).where(Requirement.req_id == "1.2")
                ).one()
            assert answered.answer and answered.answer.endswith("Failover takes under 50 ms.")
            assert answered.library_answer is None  # edited: our own words
            page.get_by_role("link", name="Mandatory open").click()
            expect(page.locator("article#r-1\\.2")).to_have_count(0)
            expect(page.locator("article#r-1\\.1")).to_have_count(1)
            page.set_viewport_size(PHONE)
            page.screenshot(path=str(shots / "p02-questionnaire-phone.png"), full_page=True)
            page.set_viewport_size(LAPTOP)
            page.get_by_role("button", name="Sign out").click()

            # sales support: QRFs, a bad returned QRF, then the good one
            _sign_in(page, workspace, people.issue_token(ctx, PEOPLE["sales_support"], by=admin))
            page.goto(f"{workspace}/bids/{ref}/quotes")
            page.get_by_role("button", name="Write the QRFs").click()
            expect(page.locator("table.qrfs tbody tr").first).to_contain_text("waiting")
            page.get_by_label("Returned QRF (.csv or .xlsx)").set_input_files(str(formula))
            page.get_by_role("button", name="Import the quotes").click()
            problems = page.locator("ul.problems li").all_inner_texts()
            assert any("row 2" in p and "formula" in p for p in problems), problems
            page.get_by_label("Returned QRF (.csv or .xlsx)").set_input_files(str(bad))
            page.get_by_role("button", name="Import the quotes").click()
            problems = page.locator("ul.problems li").all_inner_texts()
            assert any("row 2" in p and "kind" in p for p in problems), problems
            assert any("row 4" in p and "second" in p for p in problems), problems
            with reading(ctx.engine) as session:
                assert session.exec(select(Quote)).all() == []
            _no_serious_violation(page, "quotes, refused file")
            page.screenshot(path=str(shots / "p03-quotes-refused.png"), full_page=True)
            page.get_by_label("Returned QRF (.csv or .xlsx)").set_input_files(str(good))
            page.get_by_role("button", name="Import the quotes").click()
            expect(page.locator(".flash.ok")).to_contain_text("imported")
            expect(page.locator("table.qrfs")).to_contain_text("answered")
            with reading(ctx.engine) as session:
                assert len(session.exec(select(QuoteImport)).all()) == 1
            _no_serious_violation(page, "quotes")
            page.screenshot(path=str(shots / "p04-quotes.png"), full_page=True)
            page.get_by_role("button", name="Sign out").click()

            # the rest of the questionnaire from the library, in one click
            _sign_in(page, workspace, people.issue_token(ctx, PEOPLE["bid_manager"], by=admin))
            page.goto(f"{workspace}/bids/{ref}/questionnaire")
            page.get_by_label("Accept every suggestion scoring at least").fill("0")
            page.get_by_role("button", name="Accept suggestions").click()
            expect(page.locator(".flash.ok")).to_contain_text("answered from the library")
            page.get_by_role("button", name="Sign out").click()
            with reading(ctx.engine) as session:
                bid_manager = session.exec(
                    select(Person).where(Person.email == PEOPLE["bid_manager"])
                ).one()
                still = session.exec(
                    select(Requirement.req_id).where(Requirement.answer == None)  # noqa: E711
                ).all()
            for req in still:
                answer = c.AnswerRequirement(opportunity=ref, requirement=req, text="Yes.")
                dispatch(ctx, answer, bid_manager, runner=InlineRunner())
            # the solution consultant reviews the mandatory answers (the freeze waits for it)
            with reading(ctx.engine) as session:
                consultant = session.exec(
                    select(Person).where(Person.email == PEOPLE["solution_consultant"])
                ).one()
                mandatory = session.exec(
                    select(Requirement.req_id).where(Requirement.mandatory == True)  # noqa: E712
                ).all()
            for req in mandatory:
                review = c.ReviewRequirement(opportunity=ref, requirement=req)
                dispatch(ctx, review, consultant, runner=InlineRunner())

            # production done outside the pages (order details, the freeze), to governance
            order_details(ctx, ref)
            from orchestrator.bid.producing.production import freeze_design

            freeze_design(ctx, ref, by=PEOPLE["solution_consultant"])
            services.run_to_wait(ctx, ref)
            with reading(ctx.engine) as session:
                state = session.exec(select(Opportunity.state)).one()
            assert state == "governance_review", queries.status(ctx, ref).blocked_by

            # the finance approver: the inbox, the preview, approve
            _sign_in(page, workspace, people.issue_token(ctx, APPROVERS["financial"], by=admin))
            page.get_by_role("link", name="Approvals").click()
            card = page.locator("article.approval", has_text="financial")
            expect(card).to_have_count(1)
            _no_serious_violation(page, "approvals")
            card.get_by_role("link", name=f"Preview proposal-{ref}.docx").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(f"proposal-{ref}.docx")
            expect(page.locator("object.pdf")).to_have_count(1)
            pdf = page.request.get(f"{workspace}/bids/{ref}/pdf/proposal-{ref}.docx")
            assert pdf.ok and pdf.body().startswith(b"%PDF")
            assert pdf.headers["content-type"] == "application/pdf"
            _no_serious_violation(page, "preview")
            page.screenshot(path=str(shots / "p05-preview.png"), full_page=True)
            page.go_back()
            card = page.locator("article.approval", has_text="financial")
            card.get_by_role("button", name="Approve financial").click()
            expect(page.locator(".flash.ok")).to_contain_text("financial: approved")
            expect(page.locator("article.approval", has_text="financial")).to_have_count(0)
            with reading(ctx.engine) as session:
                decided = session.exec(select(Approval).where(Approval.area == "financial")).one()
            assert decided.status == "granted"

            # the other approvers answer elsewhere (Slack, the CLI); the bid manager sends the
            # offer and records the customer's verdict from the bid page
            grant_all(ctx, ref)
            services.run_to_wait(ctx, ref)
            with reading(ctx.engine) as session:
                assert session.exec(select(Opportunity.state)).one() == "submission"
            _sign_in(page, workspace, people.issue_token(ctx, PEOPLE["bid_manager"], by=admin))
            page.goto(f"{workspace}/bids/{ref}")
            page.get_by_label("Sent through").select_option("portal")
            page.get_by_label("Receipt or reference").fill("portal receipt 4711")
            page.get_by_role("button", name="Record the submission").click()
            expect(page.locator(".flash.ok")).to_be_visible()
            with reading(ctx.engine) as session:
                sent = session.exec(select(Opportunity)).one()
                assert (sent.state, sent.submission_reference) == (
                    "customer_decision",
                    "portal receipt 4711",
                )
            page.get_by_label("Verdict", exact=True).select_option("won")
            page.get_by_label("Reason for the verdict").fill("best transition plan")
            page.get_by_label("Reason category (needed for won and lost)").select_option(
                "solution_fit"
            )
            _no_serious_violation(page, "bid page, customer decision")
            page.get_by_role("button", name="Record the verdict").click()
            expect(page.locator(".flash.ok")).to_be_visible()
            page.screenshot(path=str(shots / "p05b-won.png"), full_page=True)
            with reading(ctx.engine) as session:
                won = session.exec(select(Opportunity.state)).one()
            assert won in ("contract_preparation", "contracted"), won

            # a manager's pages, each with links to the bids
            for number, kind in enumerate(
                ("funnel", "forecast", "monthly", "weekly", "qualification", "portfolio"), start=6
            ):
                page.goto(f"{workspace}/managers/{kind}")
                expect(page.get_by_role("heading", level=1)).to_be_visible()
                _no_serious_violation(page, f"managers {kind}")
                page.screenshot(
                    path=str(shots / f"p{number:02d}-managers-{kind}.png"), full_page=True
                )
            page.goto(f"{workspace}/managers/weekly")
            page.get_by_role("link", name=ref).first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(ref)
            expect(page.get_by_role("heading", level=1)).to_contain_text("<i>for</i>")
            page.set_viewport_size(PHONE)
            page.goto(f"{workspace}/managers/funnel")
            page.screenshot(path=str(shots / "p12-funnel-phone.png"), full_page=True)
        finally:
            page.screenshot(path=str(shots / "p-last.png"), full_page=True)
            browser.close()
    assert (shots / "p04-quotes.png").stat().st_size > 0
