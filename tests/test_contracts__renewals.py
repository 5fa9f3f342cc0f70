"""Contracts and renewals against the portfolio factory: the renewal scan opens exactly the
renewals due (once), each as the factory says it should look; sleeping accounts wake once;
a competitor's contract end, recorded or learned from a loss, sets the wake-up; the forecast
books signed deals from their contracts; churn carries its reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from orchestrator.bid.contracting.contracts import scan_renewals
from orchestrator.bid.customers.accounts import record_competitor
from orchestrator.bid.progress.services import record_result
from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import parse_period
from orchestrator.errors import InputError, NotPermitted
from orchestrator.funnel.contracts import churned, load_contracts
from orchestrator.funnel.forecast import forecast
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Account,
    AccountEvent,
    AuditEvent,
    Contract,
    Milestone,
    Opportunity,
    OutboxMessage,
    Person,
    Site,
    TeamMember,
)
from tests.factories_portfolio import OWNERS, ContractSpec, PortfolioSpec
from tests.factories_portfolio import build_portfolio as factory

HORIZON = 270


@pytest.fixture
def built(ctx: Context) -> PortfolioSpec:
    with Session(ctx.engine) as session:
        spec = factory(session, ctx.clock())
        session.commit()
    return spec


def due(spec: PortfolioSpec) -> list[ContractSpec]:
    today = spec.now.date()
    renewed = {c.renews for c in spec.contracts if c.renews is not None}
    return [
        c
        for c in spec.contracts
        if today <= c.end <= today + timedelta(days=HORIZON)
        and c.renewal_bid is None
        and c.index not in renewed
    ]


def test_the_scan_opens_each_renewal_due_once_as_planned(
    ctx: Context, built: PortfolioSpec
) -> None:
    today = built.now.date()
    expected = due(built)
    assert {date(2026, 11, 30), date(2027, 8, 24)} <= {c.end for c in expected}  # the edge too
    result = scan_renewals(ctx)
    assert sorted(r.contract for r in result.opened) == sorted(c.ref for c in expected)
    assert scan_renewals(ctx).opened == []  # once
    bids = {b.index: b for b in built.bids}
    with Session(ctx.engine) as session:
        for spec in expected:
            contract = session.get(Contract, spec.id)
            assert contract is not None and contract.renewal_opportunity_id is not None
            renewal = session.get(Opportunity, contract.renewal_opportunity_id)
            assert renewal is not None
            original = bids[spec.bid]
            assert (renewal.source, renewal.incumbent, renewal.state) == (
                "renewal",
                True,
                State.PRE_QUALIFICATION,
            )
            assert renewal.account_id == built.account(spec.account).id
            assert renewal.title == f"Renewal of {spec.ref}: Bid {original.index}"
            submit = max(spec.end - timedelta(days=90), today + timedelta(days=21))
            assert renewal.submission_deadline == submit
            assert renewal.decision_date == max(spec.end - timedelta(days=45), submit)
            assert renewal.contract_months == spec.term
            first, second = min(spec.term, 12), min(max(spec.term - 12, 0), 12)
            assert (
                renewal.revenue_short_term,
                renewal.revenue_medium_term,
                renewal.revenue_long_term,
            ) == pytest.approx(
                (
                    spec.monthly * first,
                    spec.monthly * second,
                    spec.monthly * max(spec.term - 24, 0),
                )
            )
            team = sorted(
                (m.role, m.person_id)
                for m in session.exec(
                    select(TeamMember).where(TeamMember.opportunity_id == renewal.id)
                ).all()
            )
            assert team == sorted(
                (m.role, m.person_id)
                for m in session.exec(
                    select(TeamMember).where(TeamMember.opportunity_id == original.id)
                ).all()
            )
            sites = session.exec(select(Site.site_id).where(Site.opportunity_id == renewal.id))
            assert sorted(sites.all()) == ["S1", "S2"]
            milestones = {
                m.name: m
                for m in session.exec(
                    select(Milestone).where(Milestone.opportunity_id == renewal.id)
                ).all()
            }
            for name, days in (
                ("renewal_review", 180),
                ("renewal_proposal", 90),
                ("renewal_signed", 30),
            ):
                planned = datetime.combine(spec.end - timedelta(days=days), time(17), tzinfo=UTC)
                floor = built.now + timedelta(days=1)
                assert milestones[name].due_at.replace(tzinfo=UTC) == max(planned, floor)
                assert milestones[name].owner_role == "account_manager"
            created = session.exec(
                select(AuditEvent).where(AuditEvent.opportunity_id == renewal.id)
            ).one()
            assert created.inputs["renews"] == spec.ref and created.actor == "rules"
            told = session.exec(
                select(OutboxMessage.recipient_email).where(
                    OutboxMessage.opportunity_id == renewal.id,
                    OutboxMessage.event == "renewal_opened",
                )
            ).all()
            assert told == [OWNERS[original.index % 2]]


def test_sleeping_accounts_wake_once_and_their_owner_is_told(
    ctx: Context, built: PortfolioSpec
) -> None:
    today = built.now.date()
    open_accounts = {b.account for b in built.bids if b.state not in ENDS}
    expected = {
        a.name
        for a in built.accounts
        if a.sleeping_until is not None
        and a.sleeping_until <= today
        and a.name not in open_accounts
    }
    assert expected
    first = scan_renewals(ctx).woken
    assert {w.account for w in first} == expected
    assert scan_renewals(ctx).woken == []
    with Session(ctx.engine) as session:
        messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.event == "account_woken")
        ).all()
        events = session.exec(select(AccountEvent).where(AccountEvent.action == "woken")).all()
    assert len(events) == len(expected)
    assert sorted(m.recipient_email or "" for m in messages) == sorted(
        built.account(name).owner for name in expected
    )


def test_a_competitors_contract_end_sets_when_the_account_wakes(
    ctx: Context, built: PortfolioSpec
) -> None:
    account = built.accounts[2]
    on_team = OWNERS[built.bids_of(account.name)[0].index % 2]
    end = date(2028, 6, 30)
    done = record_competitor(
        ctx, account.name.upper(), competitor="Rival Telecom", contract_end=end, actor=on_team
    )
    assert done.wakes_on == end - timedelta(days=270) == date(2027, 10, 4)
    soon = record_competitor(
        ctx, account.name, competitor="Rival Telecom", contract_end=date(2027, 2, 1), actor=on_team
    )
    assert soon.wakes_on == built.now.date()  # less than the lead time left: wake now
    with pytest.raises(InputError, match="has passed"):
        record_competitor(
            ctx, account.name, competitor="X", contract_end=date(2026, 1, 1), actor=on_team
        )
    with Session(ctx.engine) as session:
        session.add(Person(email="outsider@example.com", name="outsider", roles=[]))
        session.commit()
    with pytest.raises(NotPermitted, match="holds no role"):
        record_competitor(
            ctx, account.name, competitor="X", contract_end=end, actor="outsider@example.com"
        )
    with Session(ctx.engine) as session:
        row = session.exec(select(Account).where(Account.id == account.id)).one()
        events = session.exec(
            select(AccountEvent)
            .where(AccountEvent.action == "competitor_recorded")
            .order_by(col(AccountEvent.id))
        ).all()
    assert (row.competitor, row.competitor_contract_end, row.sleeping_until) == (
        "Rival Telecom",
        date(2027, 2, 1),
        built.now.date(),
    )
    assert [e.details["wakes_on"] for e in events] == ["2027-10-04", "2026-11-27"]


def test_the_forecast_books_signed_deals_from_their_contracts(
    ctx: Context, built: PortfolioSpec
) -> None:
    with reading(ctx.engine) as session:
        result = forecast(session, ctx.settings.rules_dir, now=built.now)
    booked: dict[str, float] = {}
    for c in built.contracts:
        first = date(c.start.year, c.start.month, 1)
        for i in range(c.term):
            label = (first + relativedelta(months=i)).strftime("%Y-%m")
            booked[label] = booked.get(label, 0.0) + c.monthly_eur
        label = first.strftime("%Y-%m")
        booked[label] = booked.get(label, 0.0) + c.one_off_eur
    assert [m.period for m in result.months][:2] == ["2026-11", "2026-12"]
    for month in result.months:
        assert month.committed == pytest.approx(booked.get(month.period, 0.0)), month.period


def test_churn_is_a_contract_ended_this_month_without_renewal_with_its_reason(
    ctx: Context, built: PortfolioSpec
) -> None:
    with reading(ctx.engine) as session:
        rows = churned(
            session, load_contracts(session), parse_period("2026-11"), date(2026, 11, 27)
        )
    refs = {c.ref: c for c in built.contracts}
    bids = {b.index: b for b in built.bids}
    expected = [
        c
        for c in built.contracts
        if date(2026, 11, 1) <= c.end < date(2026, 11, 27)
        and c.index not in {x.renews for x in built.contracts}
    ]
    assert [r.contract for r in rows] == [c.ref for c in sorted(expected, key=lambda c: c.end)]
    for row in rows:
        spec = refs[row.contract]
        if spec.renewal_bid is None:
            assert (row.reason_category, row.reason) == (
                "no_renewal_bid",
                "no renewal bid was opened",
            )
        else:
            renewal = bids[spec.renewal_bid]
            assert row.reason_category == renewal.category == "price"
            assert row.reason == f"{renewal.ref} lost: {renewal.reason}"
        assert row.monthly_recurring_eur == spec.monthly_eur


def test_a_loss_recorded_with_its_competitor_sets_when_the_account_wakes(
    ctx: Context, built: PortfolioSpec
) -> None:
    bid = next(b for b in built.bids if b.state == State.CUSTOMER_DECISION)
    actor = OWNERS[bid.index % 2]
    end = date(2029, 6, 30)
    with pytest.raises(InputError, match="together"):
        record_result(ctx, bid.ref, won=False, reason="r", by=actor, category="price",
                      competitor_contract_end=end)  # fmt: skip
    past = date(2026, 1, 1)
    with pytest.raises(InputError, match="has passed"):
        record_result(ctx, bid.ref, won=False, reason="r", by=actor, category="price",
                      competitor="Rival Telecom", competitor_contract_end=past)  # fmt: skip
    with Session(ctx.engine) as session:
        assert session.exec(select(Opportunity.state).where(Opportunity.id == bid.id)).one() == (
            State.CUSTOMER_DECISION
        )  # refused before anything changed
    record_result(ctx, bid.ref, won=False, reason="cheaper", by=actor, category="price",
                  competitor=" Rival  Telecom ", competitor_contract_end=end)  # fmt: skip
    with Session(ctx.engine) as session:
        account = session.exec(select(Account).where(Account.name == bid.account)).one()
        event = session.exec(
            select(AccountEvent).where(
                AccountEvent.account_id == account.id,
                AccountEvent.action == "competitor_recorded",
            )
        ).one()
    assert (account.competitor, account.competitor_contract_end, account.sleeping_until) == (
        "Rival Telecom",
        end,
        end - timedelta(days=270),
    )
    assert event.actor == actor and event.reason == f"learned when {bid.ref} was lost"
