"""A quote belongs to the site specification it priced (golden, issue 24).

Reproduces the bug: after `bid sites update` raised a site from 100 to 500 Mbps its quote
still said "firm" and the margin put the new price over the old cost. Now the quote is stale:
`bid quotes status` says "stale — re-quote" (the margin counts the site as missing), bid
production's exit criteria count it, the next `bid qrf` is an amendment with only the
changed site that names the withdrawn line, and a carrier's late answer for the old spec is
refused at import naming the field. Real renderer; SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import csv
from datetime import timedelta
from pathlib import Path

from docx import Document as open_docx
from sqlmodel import Session, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.bid.opportunity.onboarding import import_sites
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import services
from orchestrator.commercial.quotes import catalogue_for, quote_status
from orchestrator.context import Context
from orchestrator.core.commands import FileUpload, UpdateSites
from orchestrator.intake.opportunity import SiteSpec
from orchestrator.pipeline import dispatch
from orchestrator.store.models import Person, Quote
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, quote_file

CHANGED = "DE1"  # quoted by telekom beside DE2
KEPT = "DE2"
SITES = [
    SiteSpec(
        site_id=site_id,
        name=f"{city} office",
        street=street,
        postcode=postcode,
        city=city,
        country=country,
        bandwidth_mbps=100,
        access="fiber",
    )
    for site_id, street, postcode, city, country in (
        ("DE1", "Friedrichstraße 1", "10117", "Berlin", "DE"),
        ("DE2", "Mönckebergstraße 7", "20095", "Hamburg", "DE"),
        ("FR1", "12 rue de Rivoli", "75004", "Paris", "FR"),
        ("NL1", "Coolsingel 13", "3011 AD", "Rotterdam", "NL"),
    )
]


def _person(ctx: Context, email: str) -> Person:
    with Session(ctx.engine) as session:
        return session.exec(select(Person).where(Person.email == email)).one()


def _answer(ctx: Context, qrf_csv: Path, out: Path) -> Path:
    """The carrier's answer: the QRF's CSV with its quote columns filled in, the rest kept."""
    with qrf_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row.update(
            monthly_cost="120.00",
            one_off_cost="300.00",
            valid_until=(ctx.clock().date() + timedelta(days=120)).isoformat(),
            provider_reference=f"TK-{row['site_id']}",
        )
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return out


def _status(ctx: Context, ref: str) -> dict[str, str]:
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        report = quote_status(
            session, opportunity, catalogue_for(ctx.settings.rules_dir), ctx.clock().date()
        )
    return {s.site_id: s.label for s in report.sites}


def _docx_text(path: Path) -> str:
    document = open_docx(str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _quotes(ctx: Context) -> int:
    with Session(ctx.engine) as session:
        return len(session.exec(select(Quote)).all())


def test_a_quote_for_an_earlier_spec_is_stale_and_asked_again_in_an_amendment(
    real_ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ctx = real_ctx
    ref = new_bid(ctx, 0)
    import_sites(ctx, ref, SITES, actor="test")
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.run_to_wait(ctx, ref)
    first = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    assert all(r.amends is None for r in first.requests)
    qrf_dir = ctx.output_dir_for(ref) / "qrf"
    late = _answer(ctx, qrf_dir / "qrf-DE-telekom.csv", tmp_path / "late-telekom.csv")
    firm = quote_file(ctx, ref, tmp_path / "firm.csv", kind="firm")
    import_quotes(ctx, ref, firm, actor=PEOPLE["sales_support"])
    assert _status(ctx, ref)[CHANGED] == "firm"
    with Session(ctx.engine) as session:
        before = load_deal(session, ctx, get_opportunity(session, ref))
    assert before.coverage.stale == 0

    # the solution consultant raises the site's bandwidth: its quote priced 100 Mbps
    update = f"site_id,bandwidth_mbps\n{CHANGED},500\n"
    upload = FileUpload(
        filename="upgrade.csv", content_base64=base64.b64encode(update.encode()).decode()
    )
    dispatch(ctx, UpdateSites(opportunity=ref, file=upload), _person(ctx, PEOPLE["bid_manager"]))

    status = _status(ctx, ref)
    assert status[CHANGED] == "stale — re-quote (bandwidth_mbps)"
    assert status[KEPT] == "firm"
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        deal = load_deal(session, ctx, opportunity)
        check = exit_check(session, ctx, opportunity, deal)
        report = quote_status(
            session, opportunity, catalogue_for(ctx.settings.rules_dir), ctx.clock().date()
        )
    assert report.counts["stale"] == 1 and report.counts["firm"] == before.coverage.firm - 1
    assert deal.coverage.stale == 1 and deal.coverage.quoted == before.coverage.quoted - 1
    assert CHANGED not in deal.quotes  # the margin counts it as missing
    assert next(s for s in report.margin.sites if s.site_id == CHANGED).cost_eur is None
    assert {c.id for c in check.open} >= {"no_stale_quotes", "quoted_sites"}
    assert "1 quote(s) priced an earlier site spec" in check.summary

    # the next QRF to telekom is an amendment: the changed site only, the old line withdrawn
    again = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    amended = {r.name: r for r in again.requests if r.amends}
    assert list(amended) == ["qrf-DE-telekom-amendment-1"]
    request = amended["qrf-DE-telekom-amendment-1"]
    assert (request.amends, request.sites, request.firm, request.withdrawn) == (
        "qrf-DE-telekom",
        1,
        1,
        (CHANGED,),
    )
    text = _docx_text(qrf_dir / "qrf-DE-telekom-amendment-1.docx")
    assert "AMENDMENT 1 to qrf-DE-telekom" in text
    assert f"Withdrawn lines of the earlier request (do not quote them any more): {CHANGED}" in text
    assert "firm — changed: bandwidth_mbps" in text
    assert CHANGED in text and KEPT not in text
    rerun = send_quote_requests(ctx, ref, actor=PEOPLE["sales_support"])
    assert rerun.recorded == 0  # the same amendment again is not a new one

    # telekom's late answer still quotes 100 Mbps: refused whole, naming the field
    quotes_before = _quotes(ctx)
    refused = run_cli("quotes", "import", ref, str(late), "--by", PEOPLE["sales_support"])
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1 and "bandwidth_mbps" in lines[0] and "'100'" in lines[0], lines
    assert _quotes(ctx) == quotes_before

    # the answer to the amendment is taken: the site is firm again, nothing stale
    answer = _answer(ctx, qrf_dir / "qrf-DE-telekom-amendment-1.csv", tmp_path / "amended.csv")
    import_quotes(ctx, ref, answer, actor=PEOPLE["sales_support"])
    assert _status(ctx, ref)[CHANGED] == "firm"
    with Session(ctx.engine) as session:
        assert load_deal(session, ctx, get_opportunity(session, ref)).coverage.stale == 0
