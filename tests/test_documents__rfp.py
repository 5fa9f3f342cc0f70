"""A 3,200-site RFP across 16 countries: every generated document opened and checked."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from docx import Document as open_docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlalchemy import Engine
from sqlmodel import Session, select

from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.config import load_settings
from orchestrator.documents.renderer import DocxDocuments
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import open_database, transaction
from orchestrator.store.models import Milestone, Opportunity, Person, Site, TeamMember
from tests.factories_sites import (
    ALL_COUNTRIES,
    context_on,
    make_opportunity,
    quote_rows,
    site_specs,
    write_quotes,
)

N = 3200
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVIL = "{{ 7*7 }} {% if true %}x{% endif %} <b>&amp;"
SETTINGS = load_settings()


def rows_of(table: Table) -> list[list[str]]:
    """Cell texts per row, read from the XML (python-docx's cell API is slow on 3,200 rows)."""
    return [
        ["".join(t.text or "" for t in tc.iter(qn("w:t"))) for tc in tr.iter(qn("w:tc"))]
        for tr in table._tbl.iter(qn("w:tr"))
    ]


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    assert style is not None
    name: str = style.name
    return name


def text_of(path: Path) -> str:
    return "\n".join(p.text for p in open_docx(str(path)).paragraphs)


@dataclass
class Rfp:
    engine: Engine
    opportunity: Opportunity
    out: Path
    renderer: DocxDocuments
    bid: ProducedDocuments
    sheet: ProducedDocuments


def _render(
    rfp_engine: Engine, opp_id: int, out: Path, renderer: DocxDocuments
) -> tuple[ProducedDocuments, ProducedDocuments]:
    with transaction(rfp_engine) as session:
        opp = session.get(Opportunity, opp_id)
        assert opp is not None
        return renderer.bid_documents(session, opp, out), renderer.order_sheet(session, opp, out)


@pytest.fixture(scope="module")
def rfp(tmp_path_factory: pytest.TempPathFactory) -> Rfp:
    tmp = tmp_path_factory.mktemp("rfp")
    engine = open_database(f"sqlite:///{tmp}/t.db")
    opp = make_opportunity(
        engine, sites=N, state="contract_preparation", strategy="SLA-driven", team={}
    )
    with transaction(engine) as session:
        first = session.exec(select(Site).where(Site.site_id == "S-00001")).one()
        first.name = EVIL
        second = session.exec(select(Site).where(Site.site_id == "S-00002")).one()
        second.postcode = "ABC"  # FR needs five digits
        chosen = session.get(Opportunity, opp.id)
        assert chosen is not None
        chosen.service_strategy = "sla"  # chosen at kick-off
        person = Person(name="Bea Bidman", email="bea@example.com", roles=["bid_manager"])
        session.add(person)
        session.flush()
        session.add(
            TeamMember(opportunity_id=opp.id or 0, person_id=person.id or 0, role="bid_manager")
        )
        for i, name in enumerate(("kick-off meeting", "solution design", "pricing ready")):
            session.add(
                Milestone(
                    opportunity_id=opp.id or 0,
                    name=name,
                    due_at=datetime(2026, 12, 5 + i, 12, 0, tzinfo=UTC),
                    owner_role="bid_manager",
                )
            )
    specs = site_specs(N)
    import_quotes(
        context_on(engine, now=NOW),
        opp.ref,
        write_quotes(tmp / "q.csv", quote_rows(specs[: N // 2])),
        actor="bea@example.com",
    )
    renderer = DocxDocuments(SETTINGS.templates_dir, SETTINGS.rules_dir, clock=lambda: NOW)
    out = tmp / "out"
    bid, sheet = _render(engine, opp.id or 0, out, renderer)
    return Rfp(engine, opp, out, renderer, bid, sheet)


def test_qrfs_cover_every_served_site_once(rfp: Rfp) -> None:
    qrfs = [d for d in rfp.bid.documents if d.kind == "qrf"]
    csvs = {d.name: d for d in rfp.bid.documents if d.kind == "qrf_csv"}
    assert len(qrfs) >= 14  # 13 provider countries, GB and AT split by access
    assert {d.path.parent for d in qrfs} == {rfp.out / "qrf"}
    seen: list[str] = []
    for doc in qrfs:
        document = open_docx(str(doc.path))
        text = "\n".join(p.text for p in document.paragraphs)
        assert "QRF reference: QRF-0001-" in text and doc.content_hash not in text
        table = rows_of(document.tables[0])
        assert table[0] == [
            "Site ID",
            "Site",
            "Address",
            "Mbps",
            "Access",
            "SLA class",
            "Interface",
            "Resilience",
            "Install from",
            "Site contact",
            "Quote",
        ]
        body = table[1:]
        country, provider = doc.name.split("-")[1], doc.name.split("-", 2)[2]
        with csvs[doc.name].path.open(newline="", encoding="utf-8") as handle:
            csv_rows = list(csv.DictReader(handle))
        assert [r[0] for r in body] == [r["site_id"] for r in csv_rows]
        assert {r["provider"] for r in csv_rows} == {provider}
        assert {r["country"] for r in csv_rows} == {country}
        assert f"in {country} listed below" in text
        seen += [r[0] for r in body]
    in_house = [d for d in rfp.bid.documents if d.kind == "internal_quote_task"]
    assert [d.name for d in in_house] == ["internal-quote-task-BE", "internal-quote-task-NL"]
    for task in in_house:
        seen += [
            line.split(" | ")[0].lstrip("| ")
            for line in task.path.read_text().splitlines()
            if line.startswith("| S-")
        ]
    assert len(seen) == len(set(seen))
    assert len(seen) == N  # NO and CH wireless go to the fallback partner
    assert rfp.bid.problems == []
    assert "qrf-NO-globalreach" in csvs and not (rfp.out / "qrf" / "unsourced.csv").exists()


def test_requested_kind_follows_the_quotes(rfp: Rfp) -> None:
    de = next(d for d in rfp.bid.documents if d.name == "qrf-DE-telekom" and d.kind == "qrf_csv")
    with de.path.open(newline="", encoding="utf-8") as handle:
        kinds = {r["site_id"]: r["kind"] for r in csv.DictReader(handle)}
    assert kinds["S-00001"] == "firm"  # quoted budgetary already
    assert kinds[f"S-{N - 15:05d}"] == "budgetary"


def test_proposal_sections_and_site_list(rfp: Rfp) -> None:
    proposal = next(d for d in rfp.bid.documents if d.kind == "proposal")
    assert proposal.path.name == "proposal-OPP-0001.docx"
    assert rfp.bid.proposal_hash == proposal.content_hash
    document = open_docx(str(proposal.path))
    headings = [p.text for p in document.paragraphs if _style_name(p).startswith("Heading")]
    assert headings == [
        "1. Executive summary",
        "2. About us",
        "3. Our solution",
        "4. Service levels",
        "5. Pricing schedule",
        "6. Transition plan",
        "7. Terms and conditions",
        "8. Assumptions",
        "9. Offer validity and acceptance",
    ]  # no per-site appendix above 200 sites: the pricing schedule workbook has them
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"at {N} sites in {len(ALL_COUNTRIES)} countries" in text
    assert proposal.content_hash not in text and "version 1 — 1 December 2026" in text
    services, classes, sla, pricing, per_service, waves, _ = (rows_of(t) for t in document.tables)
    assert services[1][:3] == ["Managed network", SERVICES_TEXT, str(N)]
    assert per_service[1][:2] == ["Managed network", str(N)]
    schedule = next(d for d in rfp.bid.documents if d.kind == "pricing_schedule")
    sheet = openpyxl.load_workbook(schedule.path).active
    assert sheet is not None
    assert sheet.cell(row=4, column=1).value == "S-00001" and sheet.max_row == 3 + N + 1
    assert len(pricing) == len(ALL_COUNTRIES) + 1
    assert sum(int(r[1]) for r in pricing[1:]) == N
    assert classes[0][:3] == ["Class", "Access", "Availability"]
    assert any(r[0] == "Service credits" for r in sla)
    assert len(waves) == len(ALL_COUNTRIES) + 1
    assert "are confirmed after the site survey and may change" in text


SERVICES_TEXT = (
    "Managed WAN: access line, managed router and 24/7 monitoring per site, "
    "one network across all countries"
)


def test_user_text_is_printed_never_executed(rfp: Rfp) -> None:
    schedule = next(d for d in rfp.bid.documents if d.kind == "pricing_schedule")
    sites = openpyxl.load_workbook(schedule.path).active
    assert sites is not None and sites.cell(row=4, column=2).value == EVIL
    lines = rows_of(open_docx(str(rfp.sheet.documents[0].path)).tables[0])
    assert lines[1][2] == EVIL
    sheet = openpyxl.load_workbook(rfp.sheet.documents[1].path)["Order lines"]
    assert sheet.cell(row=3, column=3).value == EVIL


def test_control_plan_lists_milestones_and_owners(rfp: Rfp) -> None:
    plan = next(d for d in rfp.bid.documents if d.kind == "control_plan")
    milestones, team = (rows_of(t) for t in open_docx(str(plan.path)).tables)
    assert [r[0] for r in milestones[1:]] == [
        "kick-off meeting",
        "solution design",
        "pricing ready",
    ]
    assert milestones[1][1:5] == ["2026-12-05 12:00", "bid_manager", "Bea Bidman", "open"]
    assert team[1:] == [["bid_manager", "Bea Bidman", "bea@example.com"]]


def test_order_sheet_docx_and_xlsx_agree(rfp: Rfp) -> None:
    docx_doc, xlsx_doc = rfp.sheet.documents
    assert docx_doc.path.name == "order-sheet-OPP-0001.docx"
    assert xlsx_doc.path.name == "order-sheet-OPP-0001.xlsx"
    lines = rows_of(open_docx(str(docx_doc.path)).tables[0])
    supply = rows_of(open_docx(str(docx_doc.path)).tables[1])
    assert len(lines) == len(supply) == N + 1
    workbook = openpyxl.load_workbook(xlsx_doc.path, read_only=True)
    rows = list(workbook["Order lines"].iter_rows(values_only=True))
    assert docx_doc.content_hash in str(rows[0][0]) and "OPP-0001" in str(rows[0][0])
    assert len(rows) == N + 2
    assert [str(v) for v in rows[2][:2]] == lines[1][:2]
    header = list(rows[1])
    check, monthly = header.index("Check"), header.index("Monthly (EUR)")
    assert rows[3][4] == "ABC" and "not a valid FR postcode" in str(rows[3][check])
    assert all(isinstance(r[monthly], int | float) and r[monthly] > 0 for r in rows[2:])
    assert any(  # one problem per kind, its sites listed
        problem.startswith("1 site with a postcode not valid in their country: S-00002 postcode")
        and "'ABC' is not a valid FR postcode" in problem
        for problem in rfp.sheet.problems
    )
    assert "no purchase order recorded (bid order details OPP-0001 --po ...)" in (
        rfp.sheet.problems
    )
    assert "not a valid FR postcode" in supply[2][-1]


def test_rerun_overwrites_same_paths_and_hashes(rfp: Rfp) -> None:
    files_before = sorted(p for p in rfp.out.rglob("*") if p.is_file())
    bid, sheet = _render(rfp.engine, rfp.opportunity.id or 0, rfp.out, rfp.renderer)
    key = [(d.kind, d.name, d.path, d.content_hash) for d in bid.documents + sheet.documents]
    assert key == [
        (d.kind, d.name, d.path, d.content_hash) for d in rfp.bid.documents + rfp.sheet.documents
    ]
    assert sorted(p for p in rfp.out.rglob("*") if p.is_file()) == files_before


def test_order_sheet_refused_before_a_win(tmp_path: Path) -> None:
    from orchestrator.errors import InputError

    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    opp = make_opportunity(engine, sites=2, state="submission")
    renderer = DocxDocuments(SETTINGS.templates_dir, SETTINGS.rules_dir)
    with Session(engine) as session, pytest.raises(InputError, match="needs a won bid"):
        renderer.order_sheet(session, opp, tmp_path)
