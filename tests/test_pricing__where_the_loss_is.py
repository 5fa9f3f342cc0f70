"""Pricing where the loss is: `bid pricing OPP --site S|--country C|--band ACCESS:MBPS
--monthly X --reason WHY`, each price recorded with who set it and why; the approval summary
lists the loss-making lines with their loss (`bid.deal.loss_making_lines`). Bad input — no
reason, an unknown site, country or band, a negative price — is one line, exit 2, nothing
changed. The per-access-type option keeps working beside it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.deal import load_deal, loss_making_lines
from orchestrator.bid.producing.quotes import import_quotes
from orchestrator.bid.producing.sourcing import send_quote_requests
from orchestrator.bid.progress import services
from orchestrator.context import Context
from orchestrator.store.models import AuditEvent, Opportunity
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid, quote_file

BM = PEOPLE["bid_manager"]


def _losing_bid(ctx: Context, tmp_path: Path) -> str:
    """Six fiber sites (BE NL DE FR GB ES, 100 Mbps: 420 a month at list) whose carriers
    charge 130 % of the list price: every line loses money."""
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    services.decide(ctx, ref, outcome="bid", by=BM, reason="go")
    services.run_to_wait(ctx, ref)
    send_quote_requests(ctx, ref)
    import_quotes(ctx, ref, quote_file(ctx, ref, tmp_path / "q.csv", cost_share=1.3), actor=BM)
    return ref


def _pricing(ctx: Context, ref: str) -> dict[str, object]:
    with Session(ctx.engine) as session:
        return dict(get_opportunity(session, ref).pricing or {})


def _losses(ctx: Context, ref: str) -> dict[str, float]:
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return {
            line.site_id: line.loss
            for line in loss_making_lines(load_deal(session, ctx, opportunity))
        }


def test_loss_making_lines_are_listed_then_fixed_one_by_one(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _losing_bid(ctx, tmp_path)
    losses = _losses(ctx, ref)
    # 420 a month for 36 months + 900 once, against 546 and 1,170: 4,806 lost per site
    assert losses == {f"S000{n}": 4806.0 for n in range(1, 7)}
    shown = json.loads(run_cli("approval", "show", ref, "--json").out)
    losing = shown["loss_making"]
    assert (losing["count"], losing["total_loss_eur"]) == (6, 6 * 4806.0)
    assert losing["lines"][0] == {
        "site_id": "S0001",
        "country": "NL",
        "monthly_price": 420.0,
        "monthly_cost": 546.0,
        "loss": 4806.0,
    }
    text = run_cli("approval", "show", ref).out
    assert "loss-making lines: 6, losing 28,836.00 EUR over the contract" in text
    assert "6 sites cost more than they sell for, losing 28,836.00 EUR over the contract: " in (
        " ".join(shown["risks"])
    )  # the risk every approver reads (in Slack too)

    one = run_cli(
        "pricing",
        ref,
        "--by",
        BM,
        "--site",
        "S0002",
        "--monthly",
        "600",
        "--reason",
        "DE carrier is dear; the customer accepts 600",
        "--json",
    )
    assert one.code == 0, one.err
    assert json.loads(one.out)["changes"]["line_price"] == {
        "scope": {"site": "S0002"},
        "monthly": 600.0,
    }
    assert set(_losses(ctx, ref)) == {"S0001", "S0003", "S0004", "S0005", "S0006"}
    # per country: Belgium's lines; per band: every fiber site up to 100 Mbps left
    assert (
        run_cli(
            "pricing",
            ref,
            "--by",
            BM,
            "--country",
            "be",
            "--monthly",
            "560",
            "--one-off",
            "1200",
            "--reason",
            "in-house cost in Belgium",
        ).code
        == 0
    )
    assert set(_losses(ctx, ref)) == {"S0001", "S0003", "S0004", "S0005"}
    assert (
        run_cli(
            "pricing",
            ref,
            "--by",
            BM,
            "--band",
            "fiber:100",
            "--monthly",
            "580",
            "--reason",
            "fiber up to 100 Mbps is sold below cost",
        ).code
        == 0
    )
    assert _losses(ctx, ref) == {}
    prices = _pricing(ctx, ref)["line_price"]
    assert prices == {
        "site=S0002": {
            "monthly": 600.0,
            "by": BM,
            "reason": "DE carrier is dear; the customer accepts 600",
        },
        "country=BE": {
            "monthly": 560.0,
            "one_off": 1200.0,
            "by": BM,
            "reason": "in-house cost in Belgium",
        },
        "band=fiber:100": {
            "monthly": 580.0,
            "by": BM,
            "reason": "fiber up to 100 Mbps is sold below cost",
        },
    }
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        deal = load_deal(session, ctx, opportunity)
        monthly = {line.site_id: line.monthly_eur for line in deal.priced.lines}
        one_off = {line.site_id: line.one_off_eur for line in deal.priced.lines}
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.trigger == "prices_changed")
            .order_by(col(AuditEvent.id))
        ).all()
    # the most specific scope wins: the site, then the band, then the country (Belgium's
    # one-off stands: the band sets no one-off)
    assert monthly == {
        "S0001": 580.0,
        "S0002": 600.0,
        "S0003": 580.0,
        "S0004": 580.0,
        "S0005": 580.0,
        "S0006": 580.0,
    }
    assert (one_off["S0006"], one_off["S0001"]) == (1200.0, 900.0)
    assert [(e.actor, e.reason) for e in events] == [
        (BM, "DE carrier is dear; the customer accepts 600"),
        (BM, "in-house cost in Belgium"),
        (BM, "fiber up to 100 Mbps is sold below cost"),
    ]
    # the per-access-type option still works (and a discount applies beside the line prices)
    kept = run_cli("pricing", ref, "--by", BM, "--monthly", "fiber=450")
    assert kept.code == 0, kept.err
    assert _pricing(ctx, ref)["monthly_price"] == {"fiber": 450.0}


def test_bad_line_prices_are_one_line_exit_2_and_change_nothing(
    ctx: Context, run_cli: RunCli, tmp_path: Path
) -> None:
    ref = _losing_bid(ctx, tmp_path)
    with Session(ctx.engine) as session:
        before = session.exec(select(Opportunity)).one().pricing
        events = len(session.exec(select(AuditEvent)).all())
    cases = [
        (["--site", "S0001", "--monthly", "600"], "--reason"),
        (["--site", "S0001", "--monthly", "600", "--reason", "  "], "--reason"),
        (["--site", "NOPE", "--monthly", "600", "--reason", "r"], "no ordered site NOPE"),
        (
            ["--country", "US", "--monthly", "600", "--reason", "r"],
            "no site of OPP-0001 is in 'US'",
        ),
        (["--band", "fiber:150", "--monthly", "600", "--reason", "r"], "not a price band"),
        (["--band", "pigeon:100", "--monthly", "600", "--reason", "r"], "not a price band"),
        (["--site", "S0001", "--monthly", "-5", "--reason", "r"], "from 0 to"),
        (["--site", "S0001", "--monthly", "cheap", "--reason", "r"], "is not a price"),
        (["--site", "S0001", "--reason", "r"], "give --monthly and/or --one-off"),
    ]
    for args, said in cases:
        refused = run_cli("pricing", ref, "--by", BM, *args)
        assert refused.code == 2, (args, refused.out)
        assert said in refused.err, (args, refused.err)
        assert len(refused.err.strip().splitlines()) == 1, refused.err
        assert "Traceback" not in refused.err
    with Session(ctx.engine) as session:
        assert session.exec(select(Opportunity)).one().pricing == before
        assert len(session.exec(select(AuditEvent)).all()) == events
