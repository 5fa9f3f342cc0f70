"""The monthly review's Belgium/Netherlands view and its recurring revenue (issue 24).

Two bugs the senior bid manager met: accounts created from an opportunity had no country, so
the BE/NL view was all zero; December's "recurring revenue" held €2.45M of one-off charges.
Accounts now take their country and segment from the opportunity file (or, when it gives
none, from where most of the bid's sites are); the review keeps one-off revenue apart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from orchestrator.bid.opportunity.onboarding import create_opportunity, import_sites
from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import month_of
from orchestrator.errors import InputError
from orchestrator.funnel.report import monthly_review
from orchestrator.store.models import Account, AccountEvent, Contract, Opportunity
from tests.factories import opportunity_spec, sites


def _bid(ctx: Context, account: dict[str, str], countries: list[str]) -> str:
    ref = create_opportunity(ctx, opportunity_spec(ctx, account=account), actor="test")
    specs = [replace(s, country=c) for s, c in zip(sites(len(countries)), countries, strict=True)]
    import_sites(ctx, ref, specs, actor="test")
    return ref


def _account(ctx: Context, name: str) -> Account:
    with Session(ctx.engine) as session:
        account = session.exec(select(Account).where(Account.name == name)).one()
        session.expunge(account)
        return account


def test_accounts_carry_country_and_segment_and_the_review_splits_be_nl(ctx: Context) -> None:
    dutch = {
        "name": "Brabant Retail",
        "tier": "top",
        "country": "nl",
        "customer_profile": "cost_driven",
        "purchasing_process": "formal_rfp",
    }
    _bid(ctx, dutch, ["BE", "BE", "DE"])  # the file's country wins over the sites'
    _bid(ctx, {"name": "Gent Logistics", "tier": "major"}, ["BE", "BE", "NL", "FR"])
    _bid(ctx, {"name": "Lyon Foods", "tier": "major"}, ["FR", "FR", "BE"])
    nl, be, fr = (_account(ctx, n) for n in ("Brabant Retail", "Gent Logistics", "Lyon Foods"))
    assert (nl.country, nl.customer_profile, nl.purchasing_process) == (
        "NL",
        "cost_driven",
        "formal_rfp",
    )
    assert (be.country, fr.country) == ("BE", "FR")
    with Session(ctx.engine) as session:
        trail = session.exec(
            select(AccountEvent).where(
                AccountEvent.account_id == be.id, AccountEvent.action == "updated"
            )
        ).one()
    assert trail.details["country"] == "BE" and "most are in BE" in trail.details["from"]

    today = ctx.clock() + timedelta(hours=1)
    with Session(ctx.engine) as session:
        review = monthly_review(session, ctx.settings.rules_dir, month_of(today.date()), now=today)
    by_country = {c.country: c for c in review.money.countries}
    assert {k: c.new_bids for k, c in by_country.items()} == {"BE": 1, "NL": 1, "other": 1}
    assert by_country["BE"].pipeline_eur == pytest.approx(1_200_000)  # the factory's revenue


def test_an_existing_account_keeps_its_country_and_a_wrong_segment_is_one_line(
    ctx: Context,
) -> None:
    _bid(ctx, {"name": "Gent Logistics", "tier": "major", "country": "BE"}, ["NL"])
    again = opportunity_spec(
        ctx, account={"name": "Gent Logistics", "tier": "major", "country": "NL"}
    )
    create_opportunity(ctx, again, actor="test")
    assert _account(ctx, "Gent Logistics").country == "BE"
    wrong = opportunity_spec(
        ctx, account={"name": "Other NV", "tier": "major", "customer_profile": "cheap"}
    )
    with pytest.raises(InputError, match=r"account\.customer_profile.*unknown value 'cheap'"):
        create_opportunity(ctx, wrong, actor="test")
    with Session(ctx.engine) as session:
        assert session.exec(select(Account).where(Account.name == "Other NV")).first() is None


def test_one_off_charges_are_not_recurring_revenue(ctx: Context) -> None:
    ref = _bid(ctx, {"name": "Gent Logistics", "tier": "major", "country": "BE"}, ["BE"])
    start = ctx.clock().date().replace(day=1)
    with Session(ctx.engine) as session:
        opportunity = session.exec(select(Opportunity)).one()
        assert opportunity.ref == ref
        session.add(
            Contract(
                account_id=opportunity.account_id,
                opportunity_id=opportunity.id or 0,
                currency="EUR",
                monthly_recurring=10_000.0,
                one_off=2_450_000.0,
                monthly_recurring_eur=10_000.0,
                one_off_eur=2_450_000.0,
                start_date=start,
                end_date=date(start.year + 3, start.month, 1),
                term_months=36,
            )
        )
        session.commit()
    today = ctx.clock()
    with Session(ctx.engine) as session:
        this_month = monthly_review(
            session, ctx.settings.rules_dir, month_of(today.date()), now=today
        )
    be = {c.country: c for c in this_month.money.countries}["BE"]
    assert be.recurring_revenue_eur == 10_000.0  # was 2,460,000.00: the one-off counted in
    assert be.one_off_revenue_eur == 2_450_000.0
    assert be.order_intake_eur == 10_000.0 * 36 + 2_450_000.0
