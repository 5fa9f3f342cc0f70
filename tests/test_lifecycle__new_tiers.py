"""The middle-market and direct-channel tiers work wherever a tier is read: a bid of each
goes through all eight steps, led and decided by the people the routing table names, held
by its tier's exit criteria, and becomes a contract priced from its deal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.bid.progress import services
from orchestrator.bid.trail.recording import routing_for
from orchestrator.context import Context
from orchestrator.errors import DecisionRefused
from orchestrator.lifecycle.guards import BidFacts, bid_team_assigned
from orchestrator.lifecycle.table import State
from orchestrator.store.models import Contract, DecisionRecord
from tests.factories import PEOPLE, WON_TRAIL, grant_all, new_bid, produce, submit, transitions

BUDGET = {"middle_market": 60_000, "direct": 25_000}
LEAD = {"middle_market": "account_manager", "direct": "sales_support"}


def _state(ctx: Context, ref: str) -> State:
    with Session(ctx.engine) as session:
        return get_opportunity(session, ref).state


@pytest.mark.parametrize("tier", ["middle_market", "direct"])
def test_a_bid_of_the_new_tier_goes_through_all_eight_steps(ctx: Context, tier: str) -> None:
    ref = new_bid(
        ctx,
        account={"name": f"A {tier} customer", "tier": tier},
        estimated_revenue={"short_term": 40_000, "medium_term": 30_000, "long_term": 0},
        bants={
            "budget_eur": BUDGET[tier],
            "authority": "decision_maker",
            "need": "clear",
            "timeframe_months": 3,
            "sales_ready": True,
        },
    )
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == State.QUALIFICATION
    with Session(ctx.engine) as session:
        records = session.exec(select(DecisionRecord).order_by(col(DecisionRecord.id))).all()
        assert [(r.table_name, r.inputs["tier"]) for r in records] == [
            ("bants", tier),
            ("go_no_go", tier),
        ]
        assert records[0].outputs["result"] == "qualified"
        assert f"bants.min_budget.{tier}" in records[0].matched_rows
    route = routing_for(ctx, tier, State.QUALIFICATION)
    assert route["lead_role"] == LEAD[tier] and "sales_manager" in route["decider_roles"]
    if tier == "direct":  # the direct channel's go/no-go is the sales manager's or management's
        with pytest.raises(DecisionRefused):
            services.decide(ctx, ref, outcome="bid", by=PEOPLE["bid_manager"], reason="fits")
    services.decide(ctx, ref, outcome="bid", by=PEOPLE["management"], reason="fits")
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == State.BID_PRODUCTION
    with Session(ctx.engine) as session:
        check = exit_check(session, ctx, get_opportunity(session, ref))
        criteria = [c.id for c in check.criteria]
    assert "budgetary_share" in criteria and "firm_quotes" not in criteria
    produce(ctx, ref)
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == State.GOVERNANCE_REVIEW
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    submit(ctx, ref, by=PEOPLE["account_manager"])
    assert _state(ctx, ref) == State.CUSTOMER_DECISION
    services.record_result(ctx, ref, won=True, reason="best price", by=PEOPLE["account_manager"])
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == State.CONTRACTED
    assert transitions(ctx) == WON_TRAIL
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        deal = load_deal(session, ctx, opportunity)
        contract = session.exec(select(Contract)).one()
    assert contract.opportunity_id == opportunity.id
    assert contract.monthly_recurring_eur == deal.priced.monthly_eur > 0
    assert contract.monthly_recurring == deal.priced.fx.from_eur(deal.priced.monthly_eur)
    assert contract.term_months == opportunity.contract_months == 36
    # the agreed contract start (bid order details --contract-start), not the day of signing
    assert (
        contract.start_date == opportunity.contract_start == ctx.clock().date() + timedelta(days=90)
    )
    assert contract.end_date == contract.start_date.replace(year=contract.start_date.year + 3) - (
        timedelta(days=1)
    )
    assert sorted(contract.site_ids) == sorted(
        line.site_id for line in deal.priced.lines if line.site_id
    )


@pytest.mark.parametrize(
    ("tier", "roles", "refusal"),
    [
        ("middle_market", set(), "an account manager"),
        ("middle_market", {"account_manager"}, None),
        ("direct", set(), "a sales support"),
        ("direct", {"sales_support"}, None),
        ("installed_base", set(), None),
    ],
)
def test_kick_off_needs_each_tiers_lead(tier: str, roles: set[str], refusal: str | None) -> None:
    from datetime import date

    facts = BidFacts(
        tier=tier,
        bants={},
        submission_deadline=date(2027, 1, 1),
        today=date(2026, 12, 1),
        team_roles=frozenset(roles),
    )
    result = bid_team_assigned(facts)
    if refusal is None:
        assert result.ok
    else:
        assert not result.ok and refusal in result.reason and f"{tier} accounts" in result.reason
