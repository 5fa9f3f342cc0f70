"""The portfolio against a factory with known answers: every account's revenue, pipeline,
potential, wins and losses, service level, quadrant and suggested move, computed by hand
from the factory's parameters; the review records each move once, management accepts or
declines it on the account's trail; the chart is a real PNG and SVG."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from orchestrator.bid.customers.portfolio import decide_suggestion, record_suggestions, suggestions
from orchestrator.context import Context
from orchestrator.decisions.portfolio_rules import load_portfolio_rules
from orchestrator.errors import InputError, NotPermitted
from orchestrator.funnel.portfolio import Portfolio, build_portfolio, draw_portfolio
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import open_database, reading
from orchestrator.store.models import Account, AccountEvent, Grant, Person
from tests.conftest import REPO
from tests.factories_portfolio import AccountSpec, PortfolioSpec
from tests.factories_portfolio import build_portfolio as factory

S = State
DEFAULT_LEVEL = {
    "top": "premium",
    "major": "enhanced",
    "middle_market": "standard",
    "direct": "basic",
    "installed_base": "basic",
}


def expected_measures(spec: PortfolioSpec, account: AccountSpec) -> dict[str, float]:
    today = spec.now.date()
    since = datetime.combine(today - timedelta(days=365), time.min, tzinfo=UTC)
    revenue = 12 * sum(
        c.monthly_eur
        for c in spec.contracts
        if c.account == account.name and c.start <= today <= c.end
    )
    bids = spec.bids_of(account.name)
    pipeline = sum(
        b.first_year_eur for b in bids if b.state not in ENDS and b.state != S.CONTRACT_PREPARATION
    )
    return {
        "revenue_eur": revenue,
        "pipeline_eur": pipeline,
        "potential_eur": max(account.potential or 0.0, revenue + pipeline),
        "won_12m": sum(1 for b in bids if b.state == S.CONTRACTED and b.moved_at >= since),
        "lost_12m": sum(1 for b in bids if b.state in (S.LOST, S.NO_BID) and b.moved_at >= since),
    }


def expected_move(tier: str, m: dict[str, float]) -> str | None:
    """rules/portfolio.yaml's moves, written out by hand, first match wins."""
    if tier == "major" and m["revenue_eur"] >= 600_000:
        return "top"
    if tier == "middle_market" and m["potential_eur"] >= 250_000:
        return "major"
    if tier == "direct" and m["potential_eur"] >= 80_000:
        return "middle_market"
    if tier == "top" and m["potential_eur"] <= 300_000 and m["won_12m"] <= 0:
        return "major"
    if tier == "middle_market" and m["potential_eur"] <= 30_000 and m["lost_12m"] >= 1:
        return "direct"
    return None


def expected_quadrant(level: str, potential: float) -> str:
    high_service = level in ("enhanced", "premium")
    high_revenue = potential >= 250_000
    return {
        (True, True): "top",
        (False, True): "major",
        (True, False): "middle_market",
        (False, False): "direct",
    }[(high_service, high_revenue)]


@pytest.fixture
def built(ctx: Context) -> PortfolioSpec:
    with Session(ctx.engine) as session:
        spec = factory(session, ctx.clock())
        session.commit()
    return spec


def _portfolio(ctx: Context) -> Portfolio:
    with reading(ctx.engine) as session:
        return build_portfolio(
            session, load_portfolio_rules(ctx.settings.rules_dir), ctx.clock().date()
        )


def test_every_account_is_placed_as_computed_by_hand(ctx: Context, built: PortfolioSpec) -> None:
    result = _portfolio(ctx)
    positions = {p.name: p for p in result.positions}
    assert set(positions) == {a.name for a in built.accounts}
    moves = {}
    for account in built.accounts:
        p, m = positions[account.name], expected_measures(built, account)
        assert p.revenue_eur == pytest.approx(m["revenue_eur"]), account.name
        assert p.pipeline_eur == pytest.approx(m["pipeline_eur"]), account.name
        assert p.potential_eur == pytest.approx(m["potential_eur"]), account.name
        assert (p.won_12m, p.lost_12m) == (m["won_12m"], m["lost_12m"]), account.name
        level = account.service_level or DEFAULT_LEVEL[account.tier]
        assert p.service_level == level
        assert p.quadrant == expected_quadrant(level, m["potential_eur"]), account.name
        assert p.parent == account.parent and p.country == account.country
        move = expected_move(account.tier, m)
        assert (p.suggestion.to_tier if p.suggestion else None) == move, account.name
        if move:
            moves[account.name] = move
    # every rule of rules/portfolio.yaml is exercised by the factory
    assert {(built.account(n).tier, t) for n, t in moves.items()} == {
        ("major", "top"),
        ("middle_market", "major"),
        ("direct", "middle_market"),
        ("top", "major"),
        ("middle_market", "direct"),
    }
    for summary in result.tiers:
        mine = [a for a in built.accounts if a.tier == summary.tier]
        assert summary.accounts == len(mine)
        assert summary.revenue_eur == pytest.approx(
            sum(expected_measures(built, a)["revenue_eur"] for a in mine)
        )
        assert summary.placed_elsewhere == sum(
            1 for a in mine if positions[a.name].quadrant != a.tier
        )


def _manager(ctx: Context) -> str:
    with Session(ctx.engine) as session:
        session.add(Person(email="boss@example.com", name="Boss", roles=[Grant.MANAGEMENT.value]))
        session.commit()
    return "boss@example.com"


def test_the_review_records_each_move_once_and_management_decides(
    ctx: Context, built: PortfolioSpec, tmp_path: Path
) -> None:
    result = _portfolio(ctx)
    proposed = result.suggestions
    assert record_suggestions(ctx, proposed) == len(proposed) > 0
    assert record_suggestions(ctx, _portfolio(ctx).suggestions) == 0  # the same moves: kept once
    open_ones = suggestions(ctx)
    assert {(s.account, s.to_tier) for s in open_ones} == {(m.account, m.to_tier) for m in proposed}
    accept, decline = open_ones[0], open_ones[1]
    with pytest.raises(NotPermitted, match="only management or an admin"):
        decide_suggestion(ctx, accept.id, accept=True, by="am1@example.com", reason="agreed")
    boss = _manager(ctx)
    with pytest.raises(InputError, match="reason is required"):
        decide_suggestion(ctx, accept.id, accept=True, by=boss, reason=" ")
    done = decide_suggestion(ctx, accept.id, accept=True, by=boss, reason="agreed in the MBR")
    assert (done.status, done.decided_by) == ("accepted", boss)
    declined = decide_suggestion(ctx, decline.id, accept=False, by=boss, reason="wait a quarter")
    assert declined.status == "declined"
    with pytest.raises(InputError, match=r"already accepted by boss@example\.com"):
        decide_suggestion(ctx, accept.id, accept=False, by=boss, reason="changed my mind")
    with Session(ctx.engine) as session:
        moved = session.exec(select(Account).where(Account.name == accept.account)).one()
        kept = session.exec(select(Account).where(Account.name == decline.account)).one()
        trail = session.exec(
            select(AccountEvent)
            .where(col(AccountEvent.account_id).in_([moved.id, kept.id]))
            .where(AccountEvent.actor == boss)
            .order_by(col(AccountEvent.id))
        ).all()
    assert moved.tier == accept.to_tier and kept.tier == decline.from_tier
    assert [(e.action, e.from_tier, e.to_tier, e.reason) for e in trail] == [
        ("tier_changed", accept.from_tier, accept.to_tier, "agreed in the MBR"),
        ("move_accepted", accept.from_tier, accept.to_tier, "agreed in the MBR"),
        ("move_declined", decline.from_tier, decline.to_tier, "wait a quarter"),
    ]
    assert trail[0].details["rule_reason"] == accept.reason
    assert {s.id for s in suggestions(ctx)} == {s.id for s in open_ones} - {accept.id, decline.id}


def test_the_chart_is_a_png_and_an_svg(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'chart.db'}")
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with Session(engine) as session:
        factory(session, now)
        session.commit()
    rules = load_portfolio_rules(REPO / "rules")
    with reading(engine) as session:
        result = build_portfolio(session, rules, now.date())
    png = draw_portfolio(result, rules, tmp_path / "portfolio.png")
    with Image.open(png) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (900, 600)
    svg = draw_portfolio(result, rules, tmp_path / "portfolio.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "top (6)" in svg and "service level" in svg
