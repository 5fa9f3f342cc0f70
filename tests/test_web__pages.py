"""The workspace's production and management pages through HTTP (FastAPI's TestClient): the
questionnaire (suggestions with scores, edit-then-accept, filters), the quotes (QRFs, a
returned QRF's problems inline and nothing saved), the documents' PDF preview, and the
managers' pages — each only with a session, each action only with the CSRF token, every
change made by the pipeline's commands and checked in the database."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.pipeline import dispatch
from orchestrator.runtime.runner import InlineRunner
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Approval,
    AuditEvent,
    Person,
    Quote,
    QuoteImport,
    QuoteRequest,
    Requirement,
)
from orchestrator.web.app import make_web_app
from tests.factories import PEOPLE, carry_to_governance, new_bid, quote_file
from tests.support.golden_rfp import write_questionnaire
from tests.support.slack_api import admin_of
from tests.test_web__workspace import _person, sign_in


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    with TestClient(make_web_app(lambda: ctx, runner=InlineRunner())) as client:
        yield client


def _count(ctx: Context, model: type) -> int:
    with reading(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _bid_with_questionnaire(ctx: Context, tmp_path: Path) -> str:
    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(ctx)
    bid_manager = _person(ctx, PEOPLE["bid_manager"])
    path = write_questionnaire(tmp_path / "rfp.xlsx")
    dispatch(
        ctx,
        c.ImportRfp(opportunity=ref, file=c.FileUpload.of(path.name, path.read_bytes())),
        bid_manager,
        runner=InlineRunner(),
    )
    dispatch(ctx, c.ImportLibrary(starter=True), admin_of(ctx), runner=InlineRunner())
    return ref


def _requirement(ctx: Context, req_id: str) -> Requirement:
    with reading(ctx.engine) as session:
        return session.exec(select(Requirement).where(Requirement.req_id == req_id)).one()


# --- sessions and CSRF ------------------------------------------------------------------------


def test_the_new_pages_and_actions_need_a_session(web: TestClient, ctx: Context) -> None:
    ref = new_bid(ctx)
    before = _count(ctx, AuditEvent)
    pages = [
        f"/bids/{ref}/questionnaire",
        f"/bids/{ref}/quotes",
        f"/bids/{ref}/preview/proposal-{ref}.docx",
        f"/bids/{ref}/pdf/proposal-{ref}.docx",
        "/managers",
        *(f"/managers/{k}" for k in ("funnel", "forecast", "monthly", "weekly")),
        "/managers/qualification",
        "/managers/portfolio",
    ]
    for path in pages:
        reply = web.get(path, follow_redirects=False)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/signin?next=")
    for path in (
        f"/bids/{ref}/questionnaire/1.1",
        f"/bids/{ref}/questionnaire-suggestions",
        f"/bids/{ref}/quotes",
        f"/bids/{ref}/qrf",
        f"/bids/{ref}/questionnaire/1.1/assign",
        f"/bids/{ref}/questionnaire/1.1/review",
        f"/bids/{ref}/exceptions/S0001/quote",
        f"/bids/{ref}/exceptions/S0001/design",
    ):
        reply = web.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert reply.status_code == 401, path
    assert _count(ctx, AuditEvent) == before


# --- the questionnaire ------------------------------------------------------------------------


def test_the_questionnaire_shows_suggestions_and_takes_an_edited_answer(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    page = web.get(f"/bids/{ref}/questionnaire")
    assert page.status_code == 200
    assert "Describe the proposed network architecture" in page.text
    assert "score " in page.text and "Suggestions" in page.text  # the library's, scored
    with reading(ctx.engine) as session:
        consultant = session.exec(
            select(Person).where(Person.email == PEOPLE["solution_consultant"])
        ).one()
    assert f"owner: solution consultant ({consultant.name})" in page.text  # who holds the role
    form_library = page.text.split('id="r-1.2"')[1].split('name="library" value="')[1]
    library_id = form_library.split('"')[0]
    with reading(ctx.engine) as session:
        from orchestrator.store.models import LibraryAnswer

        suggested = session.exec(
            select(LibraryAnswer).where(LibraryAnswer.answer_id == library_id)
        ).one()
    assert suggested.answer[:40] in page.text

    # accepted unedited: recorded as the library answer
    reply = web.post(
        f"/bids/{ref}/questionnaire/1.2",
        data={"csrf": token, "library": library_id, "text": suggested.answer + "\r\n"},
        follow_redirects=False,
    )
    assert reply.status_code == 303 and reply.headers["location"].endswith("#r-1.2")
    answered = _requirement(ctx, "1.2")
    assert (answered.library_answer, answered.answer) == (library_id, suggested.answer)
    assert answered.answered_by == PEOPLE["bid_manager"]

    # edited then accepted: our own text, the markup kept as text
    edited = "Dual <b>fibre</b> access with automatic failover in under 50 ms."
    web.post(
        f"/bids/{ref}/questionnaire/1.1",
        data={"csrf": token, "library": library_id, "text": edited, "compliance": "partial"},
    )
    own = _requirement(ctx, "1.1")
    assert (own.library_answer, own.answer, str(own.compliance)) == (None, edited, "partial")
    shown = web.get(f"/bids/{ref}/questionnaire").text
    assert "Dual &lt;b&gt;fibre&lt;/b&gt;" in shown and "<b>fibre</b>" not in shown

    # the filters: mandatory open leaves out what is answered and what is optional
    mandatory_open = web.get(f"/bids/{ref}/questionnaire", params={"show": "mandatory_open"})
    assert 'id="r-1.1"' not in mandatory_open.text and 'id="r-1.3"' not in mandatory_open.text
    with reading(ctx.engine) as session:
        still = session.exec(
            select(Requirement.req_id).where(
                Requirement.mandatory,
                Requirement.answer == None,  # noqa: E711
            )
        ).all()
    assert still and all(f'id="r-{req}"' in mandatory_open.text for req in still)
    mine = web.get(f"/bids/{ref}/questionnaire", params={"show": "mine"}).text
    with reading(ctx.engine) as session:
        owned = session.exec(
            select(Requirement.req_id).where(Requirement.owner_role == "bid_manager")
        ).all()
        others = session.exec(
            select(Requirement.req_id).where(Requirement.owner_role != "bid_manager")
        ).all()
    assert all(f'id="r-{req}"' in mine for req in owned)
    assert not any(f'id="r-{req}"' in mine for req in others)


def test_an_answer_without_the_csrf_token_or_from_outside_the_team_changes_nothing(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    sign_in(web, ctx, PEOPLE["bid_manager"])
    reply = web.post(f"/bids/{ref}/questionnaire/1.1", data={"text": "no token"})
    assert reply.status_code == 403
    assert _requirement(ctx, "1.1").answer is None

    token = sign_in(web, ctx, "stranger@example.com")
    reply = web.post(f"/bids/{ref}/questionnaire/1.1", data={"csrf": token, "text": "mine now"})
    assert reply.status_code == 403 and "stranger@example.com" in reply.text
    assert _requirement(ctx, "1.1").answer is None


def test_accepting_every_suggestion_above_a_score(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    done = web.post(
        f"/bids/{ref}/questionnaire-suggestions", data={"csrf": token, "min_score": "0"}
    )
    assert "answered from the library" in done.text, done.text[-2000:]
    with reading(ctx.engine) as session:
        from_library = session.exec(
            select(func.count()).select_from(Requirement).where(Requirement.library_answer != None)  # noqa: E711
        ).one()
    assert from_library > 0
    bad = web.post(f"/bids/{ref}/questionnaire-suggestions", data={"csrf": token, "min_score": "x"})
    assert "min_score" in bad.text


# --- quotes -----------------------------------------------------------------------------------


def _in_production(ctx: Context) -> str:
    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    return ref


def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_quotes_page_lists_qrfs_and_refuses_bad_files_saving_nothing(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = _in_production(ctx)
    token = sign_in(web, ctx, PEOPLE["sales_support"])
    web.post(f"/bids/{ref}/qrf", data={"csrf": token})
    with reading(ctx.engine) as session:
        requests = session.exec(select(QuoteRequest)).all()
    assert requests
    page = web.get(f"/bids/{ref}/quotes").text
    for request in requests:
        assert request.provider in page and request.reply_by.isoformat() in page
    assert "waiting" in page

    good = quote_file(ctx, ref, tmp_path / "quotes.csv")
    text = good.read_text(encoding="utf-8")
    refusals = {
        "renamed.csv": (_zip(), "is named .csv but is a ZIP archive"),
        "formula.csv": (
            text.replace(text.splitlines()[1].split(",")[0], "=HYPERLINK(1)", 1).encode(),
            "is a spreadsheet formula",
        ),
        "huge.csv": (b"site_id\n" + b"x" * 11_000_000, "is limited to 10,000,000 bytes"),
        "rows.csv": (text.replace(",firm,", ",maybe,", 1).encode(), "row 2"),
        "formula.xlsx": (
            _xlsx([["site_id", "provider"], ["=1+2", "x"]]),
            "row 2, field &#39;site_id&#39;: is a spreadsheet formula",
        ),
        "notreally.xlsx": (b"site_id,provider\n", "is named .xlsx but is not an Excel workbook"),
        "archive.xlsx": (_zip(), "is a ZIP archive, not an Excel workbook"),
    }
    for name, (content, reason) in refusals.items():
        reply = web.post(
            f"/bids/{ref}/quotes", data={"csrf": token}, files={"file": (name, content)}
        )
        assert reply.status_code == 400, name
        assert reason in reply.text, (name, reply.text[-1500:])
        assert "nothing was saved" in reply.text
        assert _count(ctx, Quote) == 0 and _count(ctx, QuoteImport) == 0, name

    # the same quotes as an .xlsx: read as values and imported through `quotes import`
    rows = [line.split(",") for line in text.splitlines()]
    reply = web.post(
        f"/bids/{ref}/quotes",
        data={"csrf": token},
        files={"file": ("returned.xlsx", _xlsx(rows))},
        follow_redirects=True,
    )
    assert reply.status_code == 200 and "imported" in reply.text
    assert _count(ctx, Quote) == len(rows) - 1
    with reading(ctx.engine) as session:
        imported = session.exec(select(QuoteImport)).one()
        answered = session.exec(select(QuoteRequest.answered_at)).all()
    assert (imported.file_name, imported.actor) == ("returned.csv", PEOPLE["sales_support"])
    assert any(answered)
    assert "answered" in web.get(f"/bids/{ref}/quotes").text


def test_a_50_mb_upload_is_refused_before_it_is_read(web: TestClient, ctx: Context) -> None:
    ref = _in_production(ctx)
    token = sign_in(web, ctx, PEOPLE["sales_support"])
    big = b"site_id,provider\n" + b"S1,x\n" * (50_000_000 // 5)
    reply = web.post(f"/bids/{ref}/quotes", data={"csrf": token}, files={"file": ("q.csv", big)})
    assert reply.status_code in (400, 413)
    assert "bytes" in reply.text and "nothing was saved" in reply.text
    assert _count(ctx, QuoteImport) == 0


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hello")
    return out.getvalue()


# --- approvals: preview, bound to the version ------------------------------------------------


def test_the_proposal_previews_as_a_pdf_converted_once(
    real_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = real_ctx
    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    web = TestClient(make_web_app(lambda: ctx, runner=InlineRunner()))
    sign_in(web, ctx, PEOPLE["bid_manager"])
    name = f"proposal-{ref}.docx"
    inbox = web.get(f"/bids/{ref}").text
    assert f"/bids/{ref}/preview/{name}" in inbox

    # LibreOffice missing: one line why, and the .docx to download
    monkeypatch.setenv("PATH", "/nonexistent")
    page = web.get(f"/bids/{ref}/preview/{name}")
    assert page.status_code == 200
    assert "No preview: PDFs need LibreOffice" in page.text
    assert f'href="/bids/{ref}/files/{name}"' in page.text
    monkeypatch.undo()

    page = web.get(f"/bids/{ref}/preview/{name}")
    assert "No preview" not in page.text, page.text[-800:]
    assert f'data="/bids/{ref}/pdf/{name}"' in page.text
    pdf = web.get(f"/bids/{ref}/pdf/{name}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    cached = list((ctx.output_dir_for(ref) / "preview").glob("*/*.pdf"))
    assert [p.name for p in cached] == [f"proposal-{ref}.pdf"]
    stamp = cached[0].stat().st_mtime_ns
    monkeypatch.setenv("PATH", "/nonexistent")  # the cached one needs no LibreOffice
    assert web.get(f"/bids/{ref}/pdf/{name}").content == pdf.content
    assert cached[0].stat().st_mtime_ns == stamp

    sign_in(web, ctx, "stranger@example.com")
    assert web.get(f"/bids/{ref}/pdf/{name}").status_code == 403


def test_a_decision_is_bound_to_the_version_shown(web: TestClient, ctx: Context) -> None:
    from orchestrator.bid.team import people
    from orchestrator.store.models import Grant
    from tests.factories import APPROVERS

    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(ctx)
    carry_to_governance(ctx, ref)
    _person(ctx, APPROVERS["financial"])
    people.grant(ctx, APPROVERS["financial"], Grant.FINANCE, by=admin_of(ctx))
    token = sign_in(web, ctx, APPROVERS["financial"])
    inbox = web.get("/approvals").text
    assert "You decide version" in inbox
    reply = web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "verdict": "approve", "version": "0" * 64},
        follow_redirects=True,
    )
    assert "flash error" in reply.text
    with reading(ctx.engine) as session:
        pending = session.exec(select(Approval).where(Approval.area == "financial")).one()
    assert pending.status == "requested"
    version = inbox.split('name="version" value="')[1].split('"')[0]
    web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "verdict": "approve", "version": version},
    )
    with reading(ctx.engine) as session:
        decided = session.exec(select(Approval).where(Approval.area == "financial")).one()
    assert decided.status == "granted"
    assert f"/approvals/{ref}/financial" not in web.get("/approvals").text


# --- managers ---------------------------------------------------------------------------------


def test_the_managers_pages_link_to_the_bids(web: TestClient, ctx: Context) -> None:
    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(ctx, title="Campus <script>alert(1)</script> WAN")
    sign_in(web, ctx, PEOPLE["bid_manager"])
    for kind in ("funnel", "forecast", "monthly", "weekly", "qualification", "portfolio"):
        page = web.get(f"/managers/{kind}")
        assert page.status_code == 200, (kind, page.text[-500:])
        assert "<script>alert(1)</script>" not in page.text
    assert f'href="/bids/{ref}"' in web.get("/managers/qualification").text
    assert "&lt;script&gt;" in web.get("/managers/qualification").text
    assert 'href="/bids?scope=all&amp;state=pre_qualification"' in web.get("/managers/funnel").text
    bad = web.get("/managers/funnel", params={"period": "soon"})
    assert bad.status_code == 400 and "is not a period like 2026-Q4" in bad.text


# --- what each approver decides on ------------------------------------------------------------


def _governance_with_flags(ctx: Context) -> str:
    """A bid in governance review whose financial view has flags: a customer budget far below
    the price, two sites quoted above their price on quotes ending before the offer."""
    from orchestrator.bid.producing.production import freeze_design
    from orchestrator.bid.producing.quotes import import_quotes
    from orchestrator.bid.producing.sourcing import send_quote_requests
    from tests.factories import order_details

    for email in PEOPLE.values():
        _person(ctx, email)
    ref = new_bid(
        ctx,
        bants={
            "budget_eur": 50_000.0,
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 6,
            "sales_ready": True,
        },
        deviations=["liability capped at 12 months of fees"],
    )
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    send_quote_requests(ctx, ref, None, actor=PEOPLE["sales_support"])
    folder = ctx.output_dir_for(ref)
    fine = quote_file(ctx, ref, folder / "fine.csv", only={"S0001", "S0002", "S0003", "S0004"})
    import_quotes(ctx, ref, fine, actor=PEOPLE["sales_support"])
    losing = quote_file(
        ctx, ref, folder / "losing.csv", cost_share=1.5, valid_days=60, only={"S0005", "S0006"}
    )
    import_quotes(ctx, ref, losing, actor=PEOPLE["sales_support"])
    order_details(ctx, ref)
    freeze_design(ctx, ref, by=PEOPLE["solution_consultant"])
    services.run_to_wait(ctx, ref)
    return ref


def test_each_approver_sees_the_flags_and_lines_of_their_area(
    web: TestClient, ctx: Context
) -> None:
    from orchestrator.bid.team import people
    from orchestrator.store.models import Grant
    from tests.factories import APPROVERS

    ref = _governance_with_flags(ctx)
    people.grant(ctx, APPROVERS["financial"], Grant.FINANCE, by=admin_of(ctx))
    people.grant(ctx, APPROVERS["legal"], Grant.LEGAL, by=admin_of(ctx))
    token = sign_in(web, ctx, APPROVERS["financial"])
    inbox = web.get("/approvals").text
    card = inbox.split(f'id="a-{ref}-financial"')[1].split("</article>")[0]
    assert "above the customer&#39;s BANTS budget of" in card  # the flags stand out
    assert "ends before the offer&#39;s validity" in card
    assert "2 loss-making line(s) lose" in card
    assert "Financial: what you decide on" in card
    assert "<dt>Budget (BANTS)</dt>" in card and "ABOVE the budget" in card
    assert "<dt>Loss-making lines</dt>" in card and "S0005" in card
    assert "<dt>Validity</dt>" in card and "SHORTER" in card
    assert "Legal: what you decide on" not in card  # only the financial view

    version = card.split('name="version" value="')[1].split('"')[0]
    web.post(
        f"/approvals/{ref}/financial",
        data={"csrf": token, "verdict": "approve", "version": version},
    )
    with reading(ctx.engine) as session:
        decided = session.exec(select(Approval).where(Approval.area == "financial")).one()
    assert decided.status == "granted"
    assert f'id="a-{ref}-financial"' not in web.get("/approvals").text

    with reading(ctx.engine) as session:
        legal = session.exec(select(Approval).where(Approval.area == "legal")).one()
    assert legal.status == "requested"  # the deviation asks legal: its view is the deviations
    sign_in(web, ctx, APPROVERS["legal"])
    card = web.get("/approvals").text.split(f'id="a-{ref}-legal"')[1].split("</article>")[0]
    assert "Legal: what you decide on" in card
    assert "liability capped at 12 months of fees" in card
    assert "Financial: what you decide on" not in card and "BANTS" not in card


# --- assign and review a requirement ------------------------------------------------------------


def test_a_requirement_is_assigned_and_its_answer_reviewed_from_the_page(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    ref = _bid_with_questionnaire(ctx, tmp_path)
    _person(ctx, "stranger@example.com")
    consultant = PEOPLE["solution_consultant"]
    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    page = web.get(f"/bids/{ref}/questionnaire").text
    card = page.split('id="r-1.2"')[1].split("</article>")[0]
    assert '<span class="state rfp-open">open</span>' in card
    assert f'action="/bids/{ref}/questionnaire/1.2/assign"' in card
    assert f'<option value="{consultant}"' in card  # the team to pick from
    assert "/review" not in card  # nothing to review yet

    url = f"/bids/{ref}/questionnaire/1.2"
    first = _requirement(ctx, "1.2").owner
    assert first == consultant and f"assigned to {consultant}" in card  # the section's owner
    support = PEOPLE["sales_support"]
    before = _count(ctx, AuditEvent)
    assert web.post(f"{url}/assign", data={"to": support}).status_code == 403  # no CSRF
    for data, line in (
        ({}, "1.2: choose the person who answers it"),
        ({"to": "stranger@example.com"}, "stranger@example.com holds no role on"),
        ({"to": "nobody@example.com"}, "no person with e-mail nobody@example.com"),
    ):
        reply = web.post(f"{url}/assign", data={"csrf": token, **data})
        assert reply.status_code == 200 and line in reply.text, (data, reply.text[-800:])
        assert 'class="flash error"' in reply.text
        assert _requirement(ctx, "1.2").owner == consultant
    assert _count(ctx, AuditEvent) == before  # refused: nothing on the trail either

    reply = web.post(f"{url}/assign", data={"csrf": token, "to": support}, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].endswith("#r-1.2")
    assert _requirement(ctx, "1.2").owner == support
    with reading(ctx.engine) as session:
        assigned = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "rfp_assigned")
        ).one()
    assert assigned.actor == PEOPLE["bid_manager"]
    page = web.get(f"/bids/{ref}/questionnaire").text
    assert f"assigned to {support}" in page.split('id="r-1.2"')[1].split("</article>")[0]

    web.post(url, data={"csrf": token, "text": "A dual-homed MPLS core.", "compliance": "comply"})
    assert _requirement(ctx, "1.2").state == "answered"
    card = web.get(f"/bids/{ref}/questionnaire").text.split('id="r-1.2"')[1].split("</article>")[0]
    assert '<span class="state rfp-answered">answered</span>' in card
    assert f'action="/bids/{ref}/questionnaire/1.2/review"' in card

    # the person who recorded the answer does not review it (the command's own check)
    mine = web.post(f"{url}/review", data={"csrf": token, "verdict": "accept"})
    assert mine.status_code == 403 and "another person reviews it" in mine.text
    assert _requirement(ctx, "1.2").state == "answered"

    token = sign_in(web, ctx, consultant)
    reply = web.post(f"{url}/review", data={"csrf": token, "verdict": "reject", "reason": " "})
    assert "1.2: a rejection needs a reason" in reply.text
    assert _requirement(ctx, "1.2").state == "answered"
    web.post(f"{url}/review", data={"csrf": token, "verdict": "reject", "reason": "name the PoPs"})
    sent_back = _requirement(ctx, "1.2")
    assert (sent_back.state, sent_back.review_note, sent_back.answer) == (
        "draft",
        "name the PoPs",
        None,
    )
    assert "Sent back:</strong> name the PoPs" in web.get(f"/bids/{ref}/questionnaire").text

    token = sign_in(web, ctx, PEOPLE["bid_manager"])
    web.post(url, data={"csrf": token, "text": "MPLS core in Amsterdam and Frankfurt PoPs."})
    token = sign_in(web, ctx, consultant)
    reply = web.post(
        f"{url}/review",
        data={"csrf": token, "verdict": "accept", "reason": "ignored on accept"},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    reviewed = _requirement(ctx, "1.2")
    assert (reviewed.state, reviewed.reviewed_by) == ("reviewed", consultant)
    card = web.get(f"/bids/{ref}/questionnaire").text.split('id="r-1.2"')[1].split("</article>")[0]
    assert '<span class="state rfp-reviewed">reviewed</span>' in card
    assert f"Reviewed by {consultant}" in card


# --- intake exceptions on the quotes page -------------------------------------------------------


def test_the_intake_exceptions_are_resolved_from_the_quotes_page(
    web: TestClient, ctx: Context, tmp_path: Path
) -> None:
    from orchestrator.bid.opportunity.edits import current_sites
    from orchestrator.bid.producing.quotes import import_quotes
    from orchestrator.store.models import Site, Task
    from tests.factories_sites import make_opportunity, write_quotes

    consultant, support = "sc@example.com", "sam@example.com"
    ref = make_opportunity(
        ctx.engine,
        sites=6,
        countries=("DE",),
        team={"solution_consultant": consultant, "sales_support": support},
    ).ref
    rows = [  # S-00001 and S-00002 at 5,000 a month: far above any list price
        (f"S-{i:05d}", "telekom", "budgetary", 5000 if i <= 2 else 200, 500, "EUR", "2027-06-30")
        for i in range(1, 7)
    ]
    import_quotes(ctx, ref, write_quotes(tmp_path / "quotes.csv", rows), actor=support)
    assert current_sites(ctx, ref)["S-00003"].access == "copper"
    asks = tmp_path / "asks.csv"
    asks.write_text("site_id,bandwidth_mbps\nS-00003,1000\n", encoding="utf-8")
    dispatch(  # more than copper carries: a site exception (`bid sites update`)
        ctx,
        c.UpdateSites(opportunity=ref, file=c.FileUpload.of(asks.name, asks.read_bytes())),
        _person(ctx, consultant),
        runner=InlineRunner(),
    )

    def waiting() -> dict[str, str]:
        with reading(ctx.engine) as session:
            tasks = session.exec(select(Task).where(Task.status == "open")).all()
        return {t.key.split(":")[0]: t.kind for t in tasks}

    assert waiting() == {
        "S-00001": "quote_outlier",
        "S-00002": "quote_outlier",
        "S-00003": "site_exception",
    }
    token = sign_in(web, ctx, consultant)
    page = web.get(f"/bids/{ref}/quotes").text
    for site in ("S-00001", "S-00002", "S-00003"):
        assert f'id="x-{site}"' in page
    outlier = page.split('id="x-S-00001"')[1].split("</article>")[0]
    assert f'action="/bids/{ref}/exceptions/S-00001/quote"' in outlier
    assert 'value="accept">Use it' in outlier and 'value="requote">Ask again' in outlier
    site = page.split('id="x-S-00003"')[1].split("</article>")[0]
    assert f'action="/bids/{ref}/exceptions/S-00003/design"' in site
    assert '<option value="fiber">' in site and "Propose access" in site

    def refused(path: str, data: dict[str, str], line: str) -> None:
        before = (_count(ctx, AuditEvent), waiting())
        reply = web.post(f"/bids/{ref}/exceptions/{path}", data={"csrf": token, **data})
        assert reply.status_code == 200 and 'class="flash error"' in reply.text, path
        assert line in reply.text, (path, reply.text[-1500:])
        assert (_count(ctx, AuditEvent), waiting()) == before, path

    assert (
        web.post(f"/bids/{ref}/exceptions/S-00001/quote", data={"verdict": "requote"}).status_code
        == 403
    )  # no CSRF token
    refused(
        "S-00001/quote", {"verdict": "accept"}, "S-00001: using an outlier quote needs a reason"
    )
    refused("S-00004/quote", {"verdict": "requote"}, "has no quote waiting as an outlier")
    refused("S-99999/quote", {"verdict": "accept", "reason": "x"}, "S-99999 of OPP-")
    refused(
        "S-00003/design",
        {"access": "fiber", "bandwidth": "1000"},
        "S-00003: a proposed access needs reason",
    )
    refused(
        "S-00003/design",
        {"access": "fiber", "bandwidth": "1 Gbit", "reason": "fibre reaches it"},
        "S-00003: bandwidth: give Mbit/s as a whole number",
    )
    refused("S-00003/design", {"access": "dsl", "reason": "x"}, "S-00003: access: ")
    refused("S-99999/design", {"access": "fiber", "reason": "x"}, "no site &#39;S-99999&#39; in")
    refused(  # a proposal that is itself implausible
        "S-00003/design", {"access": "copper", "reason": "x"}, "copper is sold up to 100 Mbps"
    )

    web.post(
        f"/bids/{ref}/exceptions/S-00001/quote",
        data={"csrf": token, "verdict": "accept", "reason": "the only carrier on the site"},
    )
    assert "S-00001" not in waiting()
    web.post(f"/bids/{ref}/exceptions/S-00002/quote", data={"csrf": token, "verdict": "requote"})
    assert "S-00002" not in waiting()
    reply = web.post(
        f"/bids/{ref}/exceptions/S-00003/design",
        data={"csrf": token, "access": "fiber", "bandwidth": "1000", "reason": "fibre reaches it"},
        follow_redirects=False,
    )
    assert reply.status_code == 303 and reply.headers["location"].endswith("#x-S-00003")
    assert waiting() == {}
    with reading(ctx.engine) as session:
        quotes = {
            (q.site_id, q.superseded)
            for q in session.exec(
                select(Quote).where(col(Quote.site_id).in_(["S-00001", "S-00002"]))
            )
        }
        built = session.exec(select(Site).where(Site.site_id == "S-00003")).one()
        triggers = [e.trigger for e in session.exec(select(AuditEvent)).all()]
        actors = {e.actor for e in session.exec(select(AuditEvent)).all() if e.trigger != "create"}
    assert quotes == {("S-00001", False), ("S-00002", True)}
    assert (built.access, built.bandwidth_mbps, built.asked_access) == ("fiber", 1000, "copper")
    assert built.proposal_reason == "fibre reaches it"
    assert "quote_accepted" in triggers and "quote_requoted" in triggers
    assert consultant in actors
    assert "None: every quote and every site" in web.get(f"/bids/{ref}/quotes").text
