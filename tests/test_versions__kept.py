"""A submitted bid version and its files are kept exactly as they were sent.

A bid is submitted (version 1), the customer asks for a best-and-final offer with a lower
price (version 2 is submitted beside it), the bid is won and signed, a MACD moves a site
(version 3) and `bid docs` renders the documents again: every file the customer received
is still there, byte for byte, in its version's folder; the approvals, `bid status` and
`bid history` name the version they belong to. Real renderer, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document as open_docx
from sqlmodel import Session, col, select

from orchestrator.bid.closing import outcomes
from orchestrator.bid.closing.orders import record_macd
from orchestrator.bid.opportunity.offer import set_order_details
from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.producing.production import freeze_design
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.producing.terms import set_pricing
from orchestrator.bid.progress import services
from orchestrator.bid.reports import queries
from orchestrator.bid.trail.rendering import render_documents, render_set
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.intake.opportunity import OpportunitySpec, read_sites
from orchestrator.intake.site_checks import SiteRules
from orchestrator.store.models import Approval, BidVersion, Document
from tests.factories import grant_all, quote_file, submit

SPEC = {
    "account": {"name": "Nordsee Retail", "tier": "top"},
    "title": "Store connectivity",
    "source": "rfp",
    "rfp_reference": "NR-RFP-7",
    "submission_deadline": "2026-12-27",
    "estimated_revenue": {"short_term": 200000, "medium_term": 100000, "long_term": 0},
    "team": {
        "bid_manager": "bm@example.com",
        "solution_consultant": "sc@example.com",
        "operations": "ops@example.com",
        "finance": "fin@example.com",
        "legal": "legal@example.com",
        "management": "boss@example.com",
        "sales_support": "ss@example.com",
    },
    "bants": {
        "budget_eur": 400000,
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": 4,
        "sales_ready": True,
    },
    "services": ["managed_network"],
    "service_strategy": "sla",
}
SITES = (
    "site_id,name,street,postcode,city,country,bandwidth_mbps,access,contact_name,contact_phone\n"
    "A1,Hamburg store,Mönckebergstraße 1,20095,Hamburg,DE,200,fiber,Anna Lead,+4930123456\n"
    "A2,Amsterdam store,Kalverstraat 2,1012 NX,Amsterdam,NL,100,fiber,Bram Lead,+31201234567\n"
)
SENT = ("proposal-OPP-0001.docx", "submission-letter-OPP-0001.docx")


def _text(path: Path) -> str:
    return "\n".join(p.text for p in open_docx(str(path)).paragraphs)


def _letter_table(path: Path) -> list[list[str]]:
    table = open_docx(str(path)).tables[0]
    return [[cell.text for cell in row.cells] for row in table.rows]


def _submitted_bid(ctx: Context, tmp_path: Path) -> str:
    ref = create_opportunity(ctx, OpportunitySpec.model_validate(SPEC), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES)
    rules = SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))
    import_sites(ctx, ref, read_sites(sites, rules=rules).sites, actor="scenario")
    services.run_to_wait(ctx, ref, actor="scenario")
    services.decide(ctx, ref, outcome="bid", by="bm@example.com", reason="incumbent weak")
    services.run_to_wait(ctx, ref, actor="scenario")
    send_quote_requests(ctx, ref, actor="ss@example.com")
    import_quotes(ctx, ref, quote_file(ctx, ref, tmp_path / "quotes.csv"), actor="ss@example.com")
    freeze_design(ctx, ref, by="sc@example.com")
    services.run_to_wait(ctx, ref, actor="scenario")
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref, actor="scenario")
    submit(ctx, ref)
    return ref


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in SENT}


def test_submitted_versions_are_kept_through_bafo_win_and_macd(
    real_ctx: Context, tmp_path: Path
) -> None:
    ctx = real_ctx
    ref = _submitted_bid(ctx, tmp_path)
    out = ctx.output_dir_for(ref)
    status = queries.status(ctx, ref)
    assert status.state == "customer_decision"
    assert status.version is not None and status.version["number"] == 1
    assert status.version["reason"] == "design_freeze" and status.version["submitted_at"]
    assert status.as_dict()["submitted_version"]["number"] == 1
    first = _files(out / "v1")
    assert "version 1 — " in _text(out / "v1" / SENT[0])
    letter = _text(out / "v1" / SENT[1])
    assert "(version 1 — " in letter
    enclosed = _letter_table(out / "v1" / SENT[1])[1]
    assert enclosed[1] == SENT[0] and "version 1 — " in " ".join(enclosed)

    # the customer asks for a best-and-final offer: 5% off, frozen, approved, submitted
    outcomes.request_bafo(
        ctx, ref, reason="customer wants 5% off", by="bm@example.com", deadline=date(2027, 1, 6)
    )
    set_pricing(ctx, ref, {"discount_pct": 5}, by="sc@example.com")
    freeze_design(ctx, ref, by="sc@example.com")
    services.run_to_wait(ctx, ref, actor="scenario")
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref, actor="scenario")
    submit(ctx, ref)
    assert queries.status(ctx, ref).state == "customer_decision"
    assert _files(out / "v1") == first  # what the customer got first, byte for byte
    second = _files(out / "v2")
    assert second[SENT[0]] != first[SENT[0]]
    assert "(version 2 — " in _text(out / "v2" / SENT[1])
    assert "version 2 — " in _text(out / "v2" / SENT[0])

    # won and signed; a MACD moves a site: the deal changes after the win
    set_order_details(
        ctx,
        ref,
        by="ss@example.com",
        legal_entity="Nordsee Retail GmbH",
        billing_entity="Nordsee Retail GmbH",
        purchase_order="PO-4711",
        contract_start=date(2027, 3, 1),
    )
    outcomes.record_result(
        ctx, ref, won=True, reason="best and final offer accepted", by="bm@example.com"
    )
    services.run_to_wait(ctx, ref, actor="scenario")
    assert queries.status(ctx, ref).state == "contracted"
    record_macd(
        ctx,
        ref,
        site_id="A1",
        kind="move",
        changes={"street": "Jungfernstieg 7", "postcode": "20354", "city": "Hamburg"},
        actor="ss@example.com",
    )
    render_documents(ctx, ref)  # `bid docs` after the MACD

    assert _files(out / "v1") == first and _files(out / "v2") == second
    working = _text(out / SENT[0])
    assert "version 3 — " in working and "Jungfernstieg 7" not in _text(out / "v2" / SENT[0])
    assert not (out / "v3").exists()  # version 3 was never sent: no package of its own

    status = queries.status(ctx, ref)
    assert status.version is not None and status.version["number"] == 3
    assert status.version["reason"] == "macd" and status.version["submitted_at"] is None
    assert status.submitted_version is not None and status.submitted_version["number"] == 2

    with Session(ctx.engine) as session:
        versions = session.exec(select(BidVersion).order_by(col(BidVersion.number))).all()
        assert [(v.number, v.reason, v.submitted_at is not None) for v in versions] == [
            (1, "design_freeze", True),
            (2, "design_freeze", True),
            (3, "macd", False),
        ]
        v1, v2, v3 = versions
        assert (
            v2.snapshot["totals"]["contract_value_eur"]
            < v1.snapshot["totals"]["contract_value_eur"]
        )
        quoted = {q["site_id"]: q["spec"] for q in v1.snapshot["quotes"]}
        assert quoted["A1"]["bandwidth_mbps"] == 200 and quoted["A1"]["access"] == "fiber"
        moved = {s["site_id"]: s for s in v3.snapshot["sites"]}
        assert moved["A1"]["street"] == "Jungfernstieg 7"
        approvals = session.exec(
            select(Approval).where(Approval.status == "granted").order_by(col(Approval.id))
        ).all()
        by_round = {(a.round, a.version_id) for a in approvals}
        assert by_round == {(1, v1.id), (2, v2.id)}
        sent = session.exec(
            select(Document.version_id, Document.kind, Document.path)
            .where(col(Document.version_id).is_not(None))
            .where(col(Document.path).contains("/v"))
        ).all()
        kept = {(version, kind, Path(path).parent.name) for version, kind, path in sent}
        assert {
            (v1.id, "proposal", "v1"),
            (v1.id, "submission_letter", "v1"),
            (v2.id, "proposal", "v2"),
            (v2.id, "submission_letter", "v2"),
        } <= kept

    view = queries.approval_view(ctx, ref)
    assert view["approvals"] and {a["bid_version"] for a in view["approvals"]} == {2}

    history = queries.history(ctx, ref)
    submits = [row["version"] for row in history if row["trigger"] == "submit"]
    assert submits == [1, 2]
    assert history[-1]["version"] == 3
    assert all("version" in row for row in history)


def test_docs_rendered_again_never_touch_a_sent_version(real_ctx: Context, tmp_path: Path) -> None:
    """`bid docs` on a submitted bid whose deal did not change renders the same version;
    the package the customer received stays as it was."""
    ctx = real_ctx
    ref = _submitted_bid(ctx, tmp_path)
    out = ctx.output_dir_for(ref)
    first = _files(out / "v1")
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    render_documents(ctx, ref)
    render_set(ctx, ref, "submission_package")  # the package assembled again, days later
    assert _files(out / "v1") == first
    assert "version 1 — " in _text(out / SENT[0])
    with Session(ctx.engine) as session:
        assert len(session.exec(select(BidVersion)).all()) == 1
        letters = session.exec(
            select(Document).where(Document.name == "v1/submission_letter")
        ).all()
        assert len(letters) == 1  # the letter as it was sent, recorded once


def test_a_version_is_priced_once_for_its_checks_documents_and_approvals(
    real_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quotes complete the deal and it is priced; freezing the design and the
    bid-production step that follows (its exit check before and inside the transaction, the
    proposal, the version, the governance request, the documents rendered after the move)
    read that same priced deal."""
    import orchestrator.bid.measures.deal as deal_module
    import orchestrator.documents.proposal as proposal_module

    ctx = real_ctx
    ref = create_opportunity(ctx, OpportunitySpec.model_validate(SPEC), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES)
    rules = SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))
    import_sites(ctx, ref, read_sites(sites, rules=rules).sites, actor="scenario")
    services.run_to_wait(ctx, ref, actor="scenario")
    services.decide(ctx, ref, outcome="bid", by="bm@example.com", reason="incumbent weak")
    services.run_to_wait(ctx, ref, actor="scenario")
    send_quote_requests(ctx, ref, actor="ss@example.com")
    priced: list[str] = []
    real = deal_module.price_bid  # type: ignore[attr-defined]

    def counting(opportunity: Any, *args: Any) -> Any:
        priced.append(opportunity.ref)
        return real(opportunity, *args)

    monkeypatch.setattr(deal_module, "price_bid", counting)
    monkeypatch.setattr(proposal_module, "price_bid", counting)
    deal_module._PRICED.clear()  # an earlier test may have priced the very same content
    # the quotes make the content of the version: priced once, when they come in
    import_quotes(ctx, ref, quote_file(ctx, ref, tmp_path / "quotes.csv"), actor="ss@example.com")
    freeze_design(ctx, ref, by="sc@example.com")
    result = services.advance(ctx, ref, actor="scenario")
    assert (result.from_state, result.to_state) == ("bid_production", "governance_review")
    assert priced == [ref]
    queries.status(ctx, ref)
    queries.approval_view(ctx, ref)
    assert priced == [ref]
    # another day: quotes may have expired, the coverage is counted (and priced) again
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    queries.approval_view(ctx, ref)
    queries.approval_view(ctx, ref)
    assert priced == [ref, ref]


def test_approvals_asked_again_after_a_change_are_for_the_changed_version(
    real_ctx: Context, tmp_path: Path
) -> None:
    """A dearer firm quote during the review: the financial approval given on version 1 is
    invalidated and asked again for version 2 (the deal it now judges); technical keeps its
    approval of version 1; version 2 is what is submitted."""
    ctx = real_ctx
    ref = create_opportunity(ctx, OpportunitySpec.model_validate(SPEC), actor="scenario")
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES)
    rules = SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))
    import_sites(ctx, ref, read_sites(sites, rules=rules).sites, actor="scenario")
    services.run_to_wait(ctx, ref, actor="scenario")
    services.decide(ctx, ref, outcome="bid", by="bm@example.com", reason="incumbent weak")
    services.run_to_wait(ctx, ref, actor="scenario")
    send_quote_requests(ctx, ref, actor="ss@example.com")
    cheap = quote_file(ctx, ref, tmp_path / "cheap.csv", cost_share=0.5)
    import_quotes(ctx, ref, cheap, actor="ss@example.com")
    freeze_design(ctx, ref, by="sc@example.com")
    services.run_to_wait(ctx, ref, actor="scenario")
    services.approve(ctx, ref, area="technical", by="ops@example.com")
    services.approve(ctx, ref, area="financial", by="fin@example.com")
    dear = quote_file(ctx, ref, tmp_path / "dear.csv", cost_share=0.9)
    import_quotes(ctx, ref, dear, actor="ss@example.com")
    with Session(ctx.engine) as session:
        numbers = {v.id: v.number for v in session.exec(select(BidVersion)).all()}
        approvals = session.exec(select(Approval).order_by(col(Approval.id))).all()
        asked = [(a.area, a.status, numbers[a.version_id or 0]) for a in approvals]
    assert ("technical", "granted", 1) in asked and ("financial", "invalidated", 1) in asked
    assert ("financial", "requested", 2) in asked
    assert all(
        number == 2 for area, status, number in asked if status == "requested" and area != "legal"
    )
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref, actor="scenario")
    submit(ctx, ref)
    status = queries.status(ctx, ref)
    assert status.submitted_version is not None and status.submitted_version["number"] == 2
    out = ctx.output_dir_for(ref)
    assert (out / "v2" / SENT[0]).exists() and not (out / "v1").exists()
