"""MACDs on a contracted bid, and the `qrf` / `quotes` / `docs` / `macd` commands."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from orchestrator.cli.documents import register
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.config import load_settings
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.store.models import Approval, AuditEvent, ChangeOrder, Opportunity, Site
from orchestrator.wiring import open_context
from tests.factories_sites import make_opportunity, quote_rows, site_specs, write_quotes
from tests.test_quotes__import import FakeRules


@pytest.fixture()
def ctx(tmp_path: Path) -> Context:
    settings = load_settings({}, cwd=tmp_path)
    return open_context(settings, rules=FakeRules(15.0))


def _cli(ctx: Context, *args: str) -> str:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """bid"""

    register(app, lambda: ctx)
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _sites(engine: Engine) -> dict[str, Site]:
    with Session(engine) as session:
        return {s.site_id: s for s in session.exec(select(Site)).all()}


def test_macd_cycle_updates_sites_and_keeps_history(ctx: Context, tmp_path: Path) -> None:
    make_opportunity(ctx.engine, sites=4, countries=("DE", "NL"), state="contracted")
    out = tmp_path / "out"
    moved = json.loads(
        _cli(
            ctx,
            "macd",
            "OPP-0001",
            "--site",
            "S-00001",
            "--kind",
            "move",
            "--street",
            "Neue Straße 5",
            "--postcode",
            "80331",
            "--city",
            "München",
            "--by",
            "sam@example.com",
            "--out",
            str(out),
            "--json",
        )
    )
    assert moved["change_order"]["changes"]["before"]["city"] == "Berlin"
    assert moved["change_order"]["changes"]["after"]["city"] == "München"
    _cli(
        ctx,
        "macd",
        "1",
        "--site",
        "S-00002",
        "--kind",
        "change",
        "--bandwidth",
        "1000",
        "--by",
        "sam@example.com",
        "--out",
        str(out),
    )
    _cli(
        ctx,
        "macd",
        "1",
        "--site",
        "S-00003",
        "--kind",
        "delete",
        "--by",
        "sam@example.com",
        "--out",
        str(out),
    )
    _cli(
        ctx,
        "macd",
        "1",
        "--site",
        "S-00099",
        "--kind",
        "add",
        "--name",
        "New shop",
        "--street",
        "Kalverstraat 1",
        "--postcode",
        "1012 NX",
        "--city",
        "Amsterdam",
        "--country",
        "NL",
        "--bandwidth",
        "100",
        "--access",
        "fiber",
        "--by",
        "sam@example.com",
        "--out",
        str(out),
    )
    sites = _sites(ctx.engine)
    assert (sites["S-00001"].street, sites["S-00001"].postcode) == ("Neue Straße 5", "80331")
    # a MACD that changes what the customer pays waits for the financial approval
    assert sites["S-00002"].bandwidth_mbps == 100
    assert sites["S-00003"].ordered is True
    assert "S-00099" not in sites or not sites["S-00099"].ordered
    with Session(ctx.engine) as session:
        orders = session.exec(select(ChangeOrder).order_by(col(ChangeOrder.id))).all()
        audit = session.exec(select(AuditEvent)).all()
        approvals = session.exec(select(Approval).order_by(col(Approval.id))).all()
    assert [(o.site_id, o.kind, o.status) for o in orders] == [
        ("S-00001", "move", "applied"),
        ("S-00002", "change", "awaiting_approval"),
        ("S-00003", "delete", "awaiting_approval"),
        ("S-00099", "add", "awaiting_approval"),
    ]
    assert [(a.area, a.status) for a in approvals] == [("financial", "requested")] * 3
    assert [o.approval_id for o in orders[1:]] == [a.id for a in approvals]
    # the applied move changed the deal: a new bid version; the held changes wait for finance
    assert [a.trigger for a in audit] == [
        "create",
        "macd",
        "version_recorded",
        "macd",
        "macd",
        "macd",
    ]
    workbook = openpyxl.load_workbook(out / "order-sheet-OPP-0001.xlsx", read_only=True)
    lines = list(workbook["Order lines"].iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in lines] == ["S-00001", "S-00002", "S-00003", "S-00004"]
    changes = list(workbook["Changes"].iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[3], r[4]) for r in changes] == [
        ("S-00001", "move", "sam@example.com"),
        ("S-00002", "change", "sam@example.com"),
        ("S-00003", "delete", "sam@example.com"),
        ("S-00099", "add", "sam@example.com"),
    ]
    assert "city: Berlin → München" in str(changes[0][5])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--kind", "move", "--postcode", "123"], "postcode"),
        (["--kind", "move", "--city", " "], "city"),
        (["--kind", "move", "--bandwidth", "5"], "bandwidth_mbps"),
        (["--kind", "change", "--access", "pigeon"], "access"),
        (["--kind", "teleport"], "kind"),
        (["--kind", "add", "--name", "x"], "site"),
        (["--kind", "change", "--bandwidth", "500", "--monthly-cost", "-5"], "monthly_cost"),
        (["--kind", "change", "--bandwidth", "500", "--monthly-cost", "nan"], "monthly_cost"),
        (["--kind", "change", "--bandwidth", "500", "--one-off-cost", "5"], "monthly_cost"),
        (["--kind", "delete", "--monthly-cost", "5"], "monthly_cost"),
    ],
)
def test_macd_refuses_bad_changes(ctx: Context, args: list[str], field: str) -> None:
    make_opportunity(ctx.engine, sites=2, countries=("DE",), state="contracted")
    app = typer.Typer()
    register(app, lambda: ctx)
    result = CliRunner().invoke(
        app,
        ["macd", "1", "--site", "S-00001", "--by", "sam@example.com", *args],
        catch_exceptions=True,
    )
    assert isinstance(result.exception, InputError)
    assert result.exception.field == field
    with Session(ctx.engine) as session:
        assert session.exec(select(ChangeOrder)).all() == []
        assert session.exec(select(Site).where(Site.site_id == "S-00001")).one().postcode == "10000"


def test_macd_refused_before_contract(ctx: Context) -> None:
    make_opportunity(ctx.engine, sites=1, countries=("DE",), state="contract_preparation")
    app = typer.Typer()
    register(app, lambda: ctx)
    result = CliRunner().invoke(
        app, ["macd", "1", "--site", "S-00001", "--kind", "delete", "--by", "sam@example.com"]
    )
    assert isinstance(result.exception, InputError)
    assert "MACDs apply to contracted bids only" in str(result.exception)


def test_qrf_quotes_and_docs_commands(ctx: Context, tmp_path: Path) -> None:
    opp = make_opportunity(ctx.engine, sites=48, strategy="Cost transparency first")
    with Session(ctx.engine) as session:  # chosen at kick-off, not read from the free text
        row = session.get(Opportunity, opp.id)
        assert row is not None
        row.service_strategy = "cost_transparency"
        session.add(row)
        session.commit()
    out = tmp_path / "out"
    qrf = json.loads(_cli(ctx, "qrf", "OPP-0001", "--out", str(out), "--json"))
    assert {g["country"] for g in qrf["groups"]} >= {"DE", "FR", "GB", "US"}
    assert [t["country"] for t in qrf["in_house"]] == ["BE", "NL"]
    assert qrf["unserved"] == [] and qrf["unsourced"] == []
    norway = [r for r in qrf["requests"] if r["country"] == "NO"]
    assert norway[0]["provider"] == "globalreach" and norway[0]["fallback"]  # the fallback
    assert qrf["recorded"] == len(qrf["requests"])
    assert {r["reply_by"] for r in qrf["requests"]} > set()
    quotes = write_quotes(tmp_path / "q.csv", quote_rows(site_specs(48)))
    imported = json.loads(
        _cli(ctx, "quotes", "import", "OPP-0001", str(quotes), "--by", "sam@example.com", "--json")
    )
    assert imported["imported"] == len(quote_rows(site_specs(48)))
    status = json.loads(_cli(ctx, "quotes", "status", "OPP-0001", "--json"))
    assert status["counts"]["budgetary"] == imported["imported"]
    assert status["margin_pct"] == imported["margin_after_pct"]
    assert "bid margin" in _cli(ctx, "quotes", "status", "OPP-0001")
    docs = json.loads(_cli(ctx, "docs", "OPP-0001", "--out", str(out), "--json"))
    kinds = {d["kind"] for d in docs["documents"]}
    assert {"qrf", "qrf_csv", "internal_quote_task", "proposal", "control_plan"} <= kinds
    assert "order_sheet" not in kinds
    from docx import Document as open_docx

    proposal = open_docx(str(out / "proposal-OPP-0001.docx"))
    headings = [
        p.text for p in proposal.paragraphs if p.style and p.style.name.startswith("Heading")
    ]
    assert "5. Cost transparency" in headings
    text = "\n".join(p.text for p in proposal.paragraphs)
    assert docs["proposal_hash"] not in text and "version 1 — " in text  # a label, no hash


def test_filled_in_qrf_csv_imports_back(ctx: Context, tmp_path: Path) -> None:
    """The CSV sent to a provider comes back filled in and imports as is."""
    import csv

    make_opportunity(ctx.engine, sites=16)
    out = tmp_path / "out"
    _cli(ctx, "qrf", "1", "--out", str(out))
    path = out / "qrf" / "qrf-DE-telekom.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(monthly_cost="100", one_off_cost="0", valid_until="2027-12-31")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = json.loads(
        _cli(ctx, "quotes", "import", "1", str(path), "--by", "sam@example.com", "--json")
    )
    assert result["imported"] == len(rows) == 1 and result["budgetary"] == 1
    assert catalogue_for(ctx.settings.rules_dir).providers.by_id("telekom") is not None


def test_submission_package_is_the_approved_proposal(ctx: Context, tmp_path: Path) -> None:
    from docx import Document as open_docx

    from orchestrator.documents.renderer import DocxDocuments

    opp = make_opportunity(ctx.engine, sites=20, state="submission")
    renderer = DocxDocuments(ctx.settings.templates_dir, ctx.settings.rules_dir)
    with Session(ctx.engine) as session:
        row = session.get(Opportunity, opp.id)
        assert row is not None
        approved = renderer.bid_documents(session, row, tmp_path).proposal_hash
        row.proposal_hash = approved
        package = renderer.submission_package(session, row, tmp_path)
        assert package.proposal_hash == approved and package.problems == []
        letter, proposal, schedule = package.documents
        assert (letter.kind, proposal.kind, schedule.kind) == (
            "submission_letter",
            "proposal",
            "pricing_schedule",
        )
        text = "\n".join(p.text for p in open_docx(str(letter.path)).paragraphs)
        assert approved is not None and approved not in text
        assert "(version 1 — " in text and "OPP-0001" not in text
        enclosures = open_docx(str(letter.path)).tables[0]
        assert enclosures.rows[1].cells[1].text == "proposal-OPP-0001.docx"
        assert enclosures.rows[2].cells[1].text == "pricing-schedule-OPP-0001.xlsx"
        row.title = "Changed after approval"
        changed = renderer.submission_package(session, row, tmp_path)
        assert changed.problems and "changed since approval" in changed.problems[0]
