"""The proposal a bid team would send (issue 26), from the golden RFP, read back with
python-docx, openpyxl and as PDF text: cover with our logo, table of contents field,
executive summary, the accepted answers in the body under their sections, the deviations
legal approved in the terms and in the answer that refers to them (issue 24), offer validity,
signature block, no word broken in a table cell, the per-site pricing schedule annex whose
total is the deal's — and, for 3,200 sites, at most 40 pages."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from docx import Document as open_docx
from docx.oxml.ns import qn
from docx.table import Table
from pypdf import PdfReader
from sqlmodel import Session

from orchestrator.bid.facts import get_opportunity
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.documents.pdf import convert_to_pdf
from orchestrator.documents.pricing_schedule import HEADER_ROW
from orchestrator.documents.proposal import deal_from_rows
from orchestrator.documents.renderer import DocxDocuments
from orchestrator.store.db import open_database
from tests.conftest import RunCli
from tests.factories import new_bid
from tests.factories_sites import (
    ALL_COUNTRIES,
    SALES_SUPPORT,
    context_on,
    make_opportunity,
    quote_rows,
    site_specs,
    write_quotes,
)
from tests.support.golden_rfp import (
    DEVIATION,
    LEGAL_ANSWER,
    QUESTIONNAIRE,
    Golden,
    build_golden,
)

CM_PER_CHAR = 0.2
"""A generous width of one character of the tables' 9 pt Arial (bold capitals included)."""
CELL_MARGINS_CM = 0.4
"""Word's default left and right cell margins (0.19 cm each), rounded up."""


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Golden:
    return build_golden(tmp_path_factory.mktemp("proposal"))


@pytest.fixture(scope="module")
def pdf_text(golden: Golden, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("proposal-pdf")
    copy = Path(shutil.copy(_proposal(golden), folder / "proposal.docx"))
    [pdf] = convert_to_pdf([copy])
    return _squeeze(" ".join(page.extract_text() for page in PdfReader(pdf).pages))


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _proposal(golden: Golden) -> Path:
    return next(d.path for d in golden.bid.documents if d.kind == "proposal")


def _paragraphs(path: Path) -> list[tuple[str, str]]:
    """(style, text) of every body paragraph, in order."""
    return [(p.style.name if p.style else "", p.text) for p in open_docx(str(path)).paragraphs]


def _section(path: Path, heading: str) -> str:
    """The body text from a Heading 1 to the next one."""
    out: list[str] = []
    inside = False
    for style, text in _paragraphs(path):
        if style == "Heading 1":
            inside = text == heading
            continue
        if inside:
            out.append(text)
    assert out, heading
    return "\n".join(out)


def test_the_cover_names_us_the_customer_and_the_version_never_our_ids(golden: Golden) -> None:
    path = _proposal(golden)
    document = open_docx(str(path))
    cover = [p.text for p in document.paragraphs[:9]]
    assert "Northwind Networks" in cover
    assert "Proposal" in cover and "Pan-European WAN refresh" in cover
    assert "Prepared for Acme Logistics · your reference RFP-2026-17" in cover
    assert "version 1 — 1 December 2026 · Bea Bidman, Bid Manager" in cover
    assert len(document.inline_shapes) == 1  # the logo of rules/proposal.yaml
    logo = (load_settings().templates_dir / "logo.png").read_bytes()
    assert logo in [part.blob for part in document.part.package.iter_parts()]
    assert not any("OPP-" in text for text in cover)


def test_a_table_of_contents_field_lists_the_sections(golden: Golden) -> None:
    document = open_docx(str(_proposal(golden)))
    body = document.element.body
    instructions = [node.text for node in body.iter(qn("w:instrText"))]
    assert any(re.match(r"\s*TOC \\o", text or "") for text in instructions), instructions
    [toc] = [p for p in document.paragraphs if p._p.xpath(".//w:instrText")]
    lines = toc.text.splitlines()
    assert lines[:3] == ["1. Executive summary", "2. About us", "3. Our solution"]
    assert lines[-2:] == ["Appendix — Pricing per site", "Annex A — Compliance matrix"]


def test_the_executive_summary_carries_the_win_themes_and_the_total(golden: Golden) -> None:
    summary = _section(_proposal(golden), "1. Executive summary")
    assert "one service desk for every country" in summary
    assert "credits when we miss a target" in summary
    assert "contract value" in summary and "valid for 90 days, until 1 March 2027" in summary


def test_accepted_answers_are_written_in_the_sections_they_belong_to(golden: Golden) -> None:
    path = _proposal(golden)
    with Session(golden.engine) as session:
        from orchestrator.documents.proposal import compliance_rows

        opportunity = get_opportunity(session, golden.ref)
        answers = {r["id"]: r["answer"] for r in compliance_rows(session, opportunity.id or 0)}
    assert set(answers) == {q[0] for q in QUESTIONNAIRE[1:]} and all(answers.values())
    where = {
        "3. Our solution": ["1.1", "1.2", "1.3", "3.1"],
        "4. Service levels": ["2.1", "2.2"],
        "5. Pricing schedule": ["5.1"],
        "6. Transition plan": ["4.1"],
        "8. Terms and conditions": ["6.1"],
    }
    for heading, ids in where.items():
        text = _section(path, heading)
        for req_id in ids:
            assert answers[req_id] in text, (heading, req_id)
    solution = _section(path, "3. Our solution")
    assert "Network" in solution and "Security" in solution  # the customer's sections
    assert answers["2.1"] not in solution


def test_the_deviation_legal_approved_is_in_the_terms_and_in_the_legal_answer(
    golden: Golden,
) -> None:
    path = _proposal(golden)
    terms = _section(path, "8. Terms and conditions")
    assert "Deviations from the standard terms that apply to this offer:" in terms
    assert f"1. {DEVIATION}" in terms
    assert f"{LEGAL_ANSWER} Our deviations from your terms: (1) {DEVIATION}." in terms
    annex = open_docx(str(path)).tables[-1]
    [legal] = [[c.text for c in r.cells] for r in annex.rows if r.cells[0].text == "6.1"]
    assert legal[4] == "Partial" and DEVIATION in legal[5]
    matrix = next(d.path for d in golden.bid.documents if d.kind == "compliance_matrix")
    sheet = openpyxl.load_workbook(matrix).active
    assert sheet is not None
    [row] = [r for r in sheet.iter_rows(values_only=True) if r[0] == "6.1"]
    assert DEVIATION in str(row[5])
    network = _section(path, "3. Our solution")
    assert DEVIATION not in network  # only the answers that speak of terms carry it


def test_offer_validity_and_a_signature_block_for_both_parties(golden: Golden) -> None:
    path = _proposal(golden)
    acceptance = _section(path, "10. Offer validity and acceptance")
    assert "This offer is valid for 90 days from 1 December 2026, until 1 March 2027." in (
        acceptance
    )
    document = open_docx(str(path))
    [signature] = [t for t in document.tables if t.rows[0].cells[0].text.startswith("For ")]
    rows = [[c.text.strip() for c in r.cells] for r in signature.rows]
    assert rows[0] == ["For Northwind Networks", "For Acme Logistics"]
    assert rows[1] == ["Name: Bea Bidman", "Name:"]
    assert [r[1] for r in rows[2:]] == ["Title:", "Date:", "Signature:"]


def _column_widths_cm(table: Table) -> list[float]:
    grid = table._tbl.tblGrid
    return [int(col.get(qn("w:w"))) / 567 for col in grid.iterchildren(qn("w:gridCol"))]


def _words_that_do_not_fit(table: Table) -> list[tuple[str, float]]:
    widths = _column_widths_cm(table)
    problems = []
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            for word in cell.text.split():
                if len(word) * CM_PER_CHAR + CELL_MARGINS_CM > width:
                    problems.append((word, round(width, 2)))
    return problems


def test_no_word_is_broken_inside_a_table_cell(golden: Golden, pdf_text: str) -> None:
    document = open_docx(str(_proposal(golden)))
    assert len(document.tables) >= 8
    for table in document.tables:
        assert _words_that_do_not_fit(table) == [], table.rows[0].cells[0].text
    words = {
        word.strip(".,;:()")
        for table in document.tables
        for row in table.rows
        for cell in row.cells
        for word in cell.text.split()
    }
    words = {w for w in words if len(w) >= 4 and "{" not in w}
    missing = sorted(w for w in words if w not in pdf_text)
    assert missing == [], missing  # a word split across two lines reads as two


def test_the_pdf_reads_as_the_customer_gets_it(pdf_text: str) -> None:
    for expected in (
        "Northwind Networks",
        "Prepared for Acme Logistics · your reference RFP-2026-17",
        "Contents",
        "1. Executive summary",
        "Every site connects to our MPLS/SD-WAN backbone",
        f"Our deviations from your terms: (1) {DEVIATION}.",
        "This offer is valid for 90 days from 1 December 2026, until 1 March 2027.",
        "For Acme Logistics",
        "Signature:",
    ):
        assert expected in pdf_text, expected
    assert "OPP-" not in pdf_text


def _schedule_rows(path: Path) -> tuple[list[tuple[object, ...]], tuple[object, ...]]:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    return rows[:-1], rows[-1]


def _assert_schedule_is_the_deal(engine: object, ref: str, path: Path, sites: int) -> None:
    settings = load_settings()
    with Session(engine) as session:  # type: ignore[arg-type]
        opportunity = get_opportunity(session, ref)
        priced = deal_from_rows(session, opportunity, catalogue_for(settings.rules_dir)).priced
    body, total = _schedule_rows(path)
    site_rows = [r for r in body if r[0]]
    assert len(site_rows) == sites
    assert len({r[0] for r in site_rows}) == sites  # one row per site
    assert total[0] == "Total"
    assert total[8] == pytest.approx(priced.fx.from_eur(priced.monthly_eur), abs=0.001)
    assert total[9] == pytest.approx(priced.fx.from_eur(priced.one_off_eur), abs=0.001)
    column_8 = [float(str(r[8])) for r in body]
    assert round(sum(column_8), 2) == pytest.approx(total[8], abs=0.001)
    column_9 = [float(str(r[9])) for r in body]
    assert round(sum(column_9), 2) == pytest.approx(total[9], abs=0.001)


def test_the_pricing_schedule_annex_has_one_row_per_site_and_the_deals_total(
    golden: Golden,
) -> None:
    schedule = next(d.path for d in golden.bid.documents if d.kind == "pricing_schedule")
    assert schedule.name == f"pricing-schedule-{golden.ref}.xlsx"
    _assert_schedule_is_the_deal(golden.engine, golden.ref, schedule, 9)
    pricing = _section(_proposal(golden), "5. Pricing schedule")
    assert "The price of every site is in the pricing schedule" in pricing


@pytest.mark.slow
def test_a_3200_site_proposal_is_at_most_40_pages_with_the_sites_in_the_annex(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    engine = open_database(f"sqlite:///{tmp_path}/big.db")
    opportunity = make_opportunity(engine, sites=3200, state="bid_production", strategy="sla")
    ctx = context_on(engine, now=now)
    quotes = write_quotes(tmp_path / "quotes.csv", quote_rows(site_specs(3200)))
    from orchestrator.bid.producing.quotes import import_quotes

    import_quotes(ctx, opportunity.ref, quotes, actor=SALES_SUPPORT)
    settings = load_settings()
    renderer = DocxDocuments(settings.templates_dir, settings.rules_dir, clock=lambda: now)
    with Session(engine) as session:
        row = get_opportunity(session, opportunity.ref)
        proposal, schedule = renderer.proposal(session, row, tmp_path / "out")
    document = open_docx(str(proposal.path))
    assert not [t for t in document.tables if t.rows[0].cells[0].text == "Site ID"]
    for table in document.tables:
        assert _words_that_do_not_fit(table) == [], table.rows[0].cells[0].text
    [pdf] = convert_to_pdf([proposal.path])
    pages = len(PdfReader(pdf).pages)
    assert pages <= 40, pages
    _assert_schedule_is_the_deal(engine, opportunity.ref, schedule.path, 3200)
    waves = next(t for t in document.tables if t.rows[0].cells[0].text == "Wave")
    starts = [r.cells[5].text for r in waves.rows[1:]]
    assert len(starts) == len(ALL_COUNTRIES) == len(set(starts))  # one country after another
    engine.dispose()


def test_incumbent_or_challenger_changes_the_transition_wording(
    run_cli: RunCli, ctx: Context, tmp_path: Path
) -> None:
    ref = new_bid(ctx)
    out = tmp_path / "docs"
    assert run_cli("docs", ref, "--out", str(out)).code == 0
    challenger = _section(out / f"proposal-{ref}.docx", "6. Transition plan")
    assert "Sites move from your current provider" in challenger
    result = run_cli(
        "opportunity", "update", ref, "--incumbent", "--reason", "we run it today", "--json"
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["changes"] == {"incumbent": True}
    assert run_cli("docs", ref, "--out", str(out)).code == 0
    incumbent = _section(out / f"proposal-{ref}.docx", "6. Transition plan")
    assert "your sites stay in service" in incumbent and "Changes are made" in incumbent
    assert "current provider" not in incumbent
    again = run_cli("opportunity", "update", ref, "--incumbent", "--reason", "same")
    assert again.code == 2 and "nothing to change" in again.err
    back = run_cli("opportunity", "update", ref, "--challenger", "--reason", "lost it")
    assert back.code == 0, back.err


def test_about_us_and_references_come_from_the_answer_library(
    golden: Golden, tmp_path: Path
) -> None:
    from orchestrator.bid.answers.library import import_library
    from orchestrator.intake.answer_library import parse_library
    from tests.support.golden_rfp import BID_MANAGER, NOW

    before = _section(_proposal(golden), "2. About us")
    # the starter library's company overview, not the fallback of rules/proposal.yaml
    assert "Founded in 1998 in Brussels" in before
    assert "Northwind Networks designs, builds and runs managed networks" not in before
    library = tmp_path / "ours.yaml"
    library.write_text(
        """answers:
  - id: COM-001
    question: Describe your company.
    answer: We run 40,000 managed sites for 300 multinational customers from two centres.
    compliance: comply
    tags: [company, overview]
    owner: bea@example.com
    last_reviewed: 2026-10-01
  - id: REF-001
    question: Retail chain, 1,200 stores in 9 countries
    answer: Managed SD-WAN since 2021, migrated in 14 months without a store closing.
    compliance: comply
    tags: [references]
    owner: bea@example.com
    last_reviewed: 2026-10-01
""",
        encoding="utf-8",
    )
    ctx = context_on(golden.engine, now=NOW)
    import_library(ctx, parse_library(library, NOW.date()), by=BID_MANAGER)
    with Session(golden.engine) as session:
        opportunity = get_opportunity(session, golden.ref)
        proposal = golden.renderer.proposal(session, opportunity, tmp_path / "out")[0]
    about = _section(proposal.path, "2. About us")
    assert "We run 40,000 managed sites for 300 multinational customers" in about
    assert "Northwind Networks designs" not in about  # the library's overview replaces it
    assert "References" in about
    assert "Retail chain, 1,200 stores in 9 countries" in about
    assert "migrated in 14 months without a store closing" in about
