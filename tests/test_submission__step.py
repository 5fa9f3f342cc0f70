"""Submission is a step people take, and the contract runs from the agreed start (golden,
issue 24).

Reproduces two bugs: the bid moved to the customer's decision by itself on the last
approval, with nobody recorded as having sent the offer; and a contract signed with
`--contract-start 2027-04-01` ran from the day of signing, so the forecast, the order intake
and the renewal were months early. Now the last approval leaves the bid in submission until
`bid submit` records how, when and by whom; the customer-decision clock starts then; the
contract's dates follow the agreed start. Bad input is one line, exit 2, nothing changed.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.planning import after_working_hours, home_country
from orchestrator.bid.opportunity.offer import set_order_details
from orchestrator.bid.progress import services
from orchestrator.bid.progress.submission import submit_offer
from orchestrator.bid.trail.versions import submitted_version
from orchestrator.context import Context
from orchestrator.funnel.forecast import forecast
from orchestrator.store.models import AuditEvent, Contract, Milestone, Opportunity
from tests.conftest import CliResult, FixedClock, RunCli
from tests.factories import PEOPLE, carry_to_governance, grant_all, new_bid

BM = PEOPLE["bid_manager"]


def _state(ctx: Context, ref: str) -> str:
    with Session(ctx.engine) as session:
        return get_opportunity(session, ref).state.value


def _events(ctx: Context, ref: str) -> int:
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return len(
            session.exec(
                select(AuditEvent).where(AuditEvent.opportunity_id == opportunity.id)
            ).all()
        )


def _one_line(result: CliResult) -> str:
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1, result
    return str(lines[0])


def _approved(ctx: Context) -> str:
    ref = new_bid(ctx, 6)
    carry_to_governance(ctx, ref)
    assert _state(ctx, ref) == "governance_review"
    return ref


def test_the_last_approval_waits_for_bid_submit_which_starts_the_decision_clock(
    ctx: Context, clock: FixedClock, run_cli: RunCli
) -> None:
    ref = _approved(ctx)
    # before the approvals: refused, naming what is missing; nothing changed
    before = _events(ctx, ref)
    line = _one_line(
        run_cli("submit", ref, "--by", BM, "--channel", "portal", "--reference", "R-1")
    )
    assert "waits for its approvals" in line and "financial" in line
    assert _state(ctx, ref) == "governance_review"

    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "submission"  # no longer submitted by itself
    status = services.advance(ctx, ref)
    assert not status.moved and "bid submit" in (status.waiting_for or "")

    line = _one_line(run_cli("submit", ref, "--by", BM, "--channel", "fax", "--reference", "R-1"))
    assert "'fax' is not a channel: choose portal, email, hand" in line
    assert _state(ctx, ref) == "submission"
    assert _events(ctx, ref) > before  # the refusals are on the trail, nothing else moved

    clock.advance(days=3)
    sent_at = clock() - timedelta(hours=2)
    step = submit_offer(
        ctx, ref, by=BM, channel="email", reference="Offer v1 to procurement", at=sent_at
    )
    assert (step.from_state.value, step.to_state.value) == ("submission", "customer_decision")
    with Session(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        assert (
            opportunity.submitted_by,
            opportunity.submission_channel,
            opportunity.submission_reference,
        ) == (BM, "email", "Offer v1 to procurement")
        event = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id, AuditEvent.trigger == "submit")
            .order_by(col(AuditEvent.id).desc())
        ).first()
        assert event is not None and event.actor == BM
        assert event.inputs["channel"] == "email" and event.inputs["at"] == sent_at.isoformat()
        assert event.inputs["reference"] == "Offer v1 to procurement"
        version = submitted_version(session, opportunity)
        assert version is not None and version.submitted_at is not None
        assert version.submitted_at.replace(tzinfo=sent_at.tzinfo) == sent_at
        clock_milestone = session.exec(
            select(Milestone).where(
                Milestone.opportunity_id == opportunity.id,
                Milestone.name == "customer_decision",
            )
        ).one()
    due = after_working_hours(sent_at, 480, home_country(ctx))
    assert clock_milestone.due_at.replace(tzinfo=due.tzinfo) == due
    assert clock_milestone.owner_role == "account_manager"


def test_the_contract_runs_from_the_agreed_start(
    ctx: Context, clock: FixedClock, run_cli: RunCli
) -> None:
    ref = _approved(ctx)
    grant_all(ctx, ref)
    services.run_to_wait(ctx, ref)
    clock.advance(days=5)
    submit_offer(ctx, ref, by=BM, channel="portal", reference="portal receipt 7781")
    submitted = clock().date()

    # a contract start before the offer went out: one line naming the field, nothing changed
    with Session(ctx.engine) as session:
        held = get_opportunity(session, ref).contract_start
    early = (submitted - timedelta(days=2)).isoformat()
    line = _one_line(run_cli("order", "details", ref, "--contract-start", early))
    assert "contract-start" in line and "before the offer was submitted" in line
    with Session(ctx.engine) as session:
        assert get_opportunity(session, ref).contract_start == held

    agreed = date(2027, 4, 1)
    set_order_details(ctx, ref, by=PEOPLE["sales_support"], contract_start=agreed)
    services.record_result(ctx, ref, won=True, reason="best transition plan", by=BM)
    services.run_to_wait(ctx, ref)
    assert _state(ctx, ref) == "contracted"

    listed = run_cli("contract", "list", "--json")
    assert listed.code == 0, listed
    (row,) = [r for r in json.loads(listed.out) if r["opportunity"] == ref]
    assert (row["start_date"], row["end_date"]) == ("2027-04-01", "2030-03-31")
    with Session(ctx.engine) as session:
        months = forecast(session, ctx.settings.rules_dir, now=clock()).months
        contract = session.exec(select(Contract)).one()
    committed = {m.period: m.committed for m in months}
    assert all(committed[p] == 0 for p in committed if p < "2027-04")
    assert committed["2027-04"] == pytest.approx(
        contract.monthly_recurring_eur + contract.one_off_eur
    )

    # agreed later still: the signed contract moves with it (end, renewal date)
    set_order_details(ctx, ref, by=PEOPLE["sales_support"], contract_start=date(2027, 5, 1))
    with Session(ctx.engine) as session:
        contract = session.exec(select(Contract)).one()
        opportunity = session.exec(select(Opportunity)).one()
    assert (contract.start_date, contract.end_date) == (date(2027, 5, 1), date(2030, 4, 30))
    assert opportunity.contract_start == date(2027, 5, 1)
