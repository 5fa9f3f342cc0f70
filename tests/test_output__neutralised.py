"""User text goes out harmless: never Rich markup in the terminal, never a formula in a
spreadsheet, never mathtext in a chart — and a QRF still reads back as the same sites."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.progress import services
from orchestrator.bid.trail.rendering import render_quote_requests
from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import parse_period
from orchestrator.funnel.report import monthly_report
from orchestrator.intake.opportunity import SiteSpec
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Opportunity, Quote
from orchestrator.text import spreadsheet_cell
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, opportunity_spec

MARKUP_TITLE = "[/] [bold]Bold[/bold] [link=http://x]x[/link] \\"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+SITE2", "'+SITE2"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("-2+3", "'-2+3"),
        ("\t=cmd", "'\t=cmd"),
        ("＝1+1", "'＝1+1"),
        ("-12.5", "-12.5"),
        ("1012 JS", "1012 JS"),
        (42, 42),
    ],
)
def test_a_spreadsheet_cell_never_starts_a_formula(value: object, shown: object) -> None:
    assert spreadsheet_cell(value) == shown


def test_markup_in_user_text_is_printed_as_written(run_cli: RunCli, ctx: Context) -> None:
    ref = new_bid(ctx, title=MARKUP_TITLE, account={"name": "[red]Acme", "tier": "top"})
    services.run_to_wait(ctx, ref)
    with transaction(ctx.engine) as session:  # a row from before intake refused control codes
        opportunity = session.get(Opportunity, 1)
        assert opportunity is not None
        opportunity.title += "\x1b[2J"
    for command in (
        ("status", ref),
        ("list",),
        ("history", ref),
        ("outbox",),
        ("explain", ref),
        ("quotes", "status", ref),
        ("deadlines",),
        ("sleeping",),
    ):
        result = run_cli(*command)
        assert result.code == 0, (command, result.err)
        assert "\x1b" not in result.out, command
    status = run_cli("status", ref).out
    assert MARKUP_TITLE in status and "\\x1b[2J" in status and "[red]Acme" in status
    assert "[/]" in run_cli("list").out


def test_qrf_cells_are_neutralised_and_read_back_as_the_same_sites(real_ctx: Context) -> None:
    ref = create_opportunity(real_ctx, opportunity_spec(real_ctx), actor="test")
    hostile = [
        SiteSpec("S1", "+SITE2", '=HYPERLINK("http://x")', "=1+1", "@SUM(1+1)", "DE", 100, "fiber"),
        SiteSpec("S2", "Depot", "Hauptstraße 1", "-1+2", "Berlin", "DE", 200, "fiber"),
        SiteSpec("S3", "Plain", "Main 1", "10115", "Berlin", "DE", 100, "fiber"),
    ]
    import_sites(real_ctx, ref, hostile, actor="test")
    produced = render_quote_requests(real_ctx, ref)
    (qrf,) = [d for d in produced.documents if d.kind == "qrf_csv" and d.name.startswith("qrf-DE-")]
    with qrf.path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_site = {row["site_id"]: row for row in rows}
    assert by_site["S1"]["name"] == "'+SITE2"
    assert by_site["S1"]["street"] == '\'=HYPERLINK("http://x")'
    assert (by_site["S1"]["postcode"], by_site["S1"]["city"]) == ("'=1+1", "'@SUM(1+1)")
    assert by_site["S2"]["postcode"] == "'-1+2"
    assert by_site["S3"]["postcode"] == "10115"

    # the provider fills in the QRF and sends it back: it imports as the same sites
    provider = qrf.name.split("-")[-1]
    filled = qrf.path.with_name("filled.csv")
    with filled.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=[
                *rows[0],
                "provider",
                "kind",
                "monthly_cost",
                "one_off_cost",
                "currency",
                "valid_until",
            ],
        )
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **row,
                    "provider": provider,
                    "kind": "budgetary",
                    "monthly_cost": "100",
                    "one_off_cost": "0",
                    "currency": "EUR",
                    "valid_until": "2027-06-30",
                }
            )
    result = import_quotes(real_ctx, ref, filled, actor=PEOPLE["sales_support"])
    assert result.imported == len(rows) == 3
    with reading(real_ctx.engine) as session:
        quoted = sorted(q.site_id for q in session.exec(select(Quote)).all())
    assert quoted == sorted(by_site) == ["S1", "S2", "S3"]


def test_the_monthly_report_survives_hostile_owner_emails(ctx: Context, tmp_path: Path) -> None:
    team = dict(PEOPLE, account_manager="=1+1@example.com")
    new_bid(ctx, team=team)
    new_bid(
        ctx,
        account={"name": "Other", "tier": "top"},
        team=dict(PEOPLE, account_manager="$\\frac{x$@example.com"),
    )
    out = tmp_path / "report"
    index = monthly_report(
        ctx.engine,
        rules_dir=ctx.settings.rules_dir,
        templates_dir=ctx.settings.templates_dir,
        month=parse_period("2026-11"),
        out_dir=out,
        now=datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert index.exists() and (out / "bids_per_owner.png").exists()
    with (out / "bids_per_owner.csv").open(newline="", encoding="utf-8") as handle:
        owners = [row["owner"] for row in csv.DictReader(handle)]
    assert "'=1+1@example.com" in owners and "$\\frac{x$@example.com" in owners
