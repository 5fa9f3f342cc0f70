"""Roles for what concerns the whole organisation (issue 23, "roles for the rest"): the answer
library, withdrawals, a saved forecast, the renewal scan and the deadline warnings. Each
refusal is one line and exit 2 through the CLI, and changes nothing (a refused withdrawal is
kept on the bid's trail, as every refused change to a bid is)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator.bid.answers.library import import_library
from orchestrator.bid.closing import outcomes
from orchestrator.bid.contracting.contracts import scan_renewals
from orchestrator.bid.progress import deadlines
from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.errors import NotPermitted
from orchestrator.intake.answer_library import parse_library
from orchestrator.store.db import reading
from orchestrator.store.models import AuditEvent, Grant, LibraryAnswer, Person
from tests.conftest import RunCli
from tests.factories import PEOPLE, new_bid
from tests.support.dump import dump
from tests.support.slack_api import admin_of


def _as(ctx: Context, monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    """The CLI acts as `email` (a token an admin issued)."""
    admin = admin_of(ctx)
    monkeypatch.setenv("BID_TOKEN", people.issue_token(ctx, email, by=admin))


def _refused_in_one_line(result: object, who: str) -> None:
    code, err = result.code, result.err  # type: ignore[attr-defined]
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and who in err


def _grant(ctx: Context, email: str, role: Grant) -> None:
    assert people.grant(ctx, email, role, by=admin_of(ctx))


# --- the answer library ---------------------------------------------------------------------


def test_a_bid_manager_without_the_library_role_changes_no_answer(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_bid(ctx)  # the bid manager holds a role on a bid, not on the company's answers
    _as(ctx, monkeypatch, PEOPLE["bid_manager"])
    before = dump(ctx.engine)
    refused = run_cli("rfp", "library", "import", "--starter")
    _refused_in_one_line(refused, PEOPLE["bid_manager"])
    assert "library_editor" in refused.err
    assert dump(ctx.engine) == before
    _grant(ctx, PEOPLE["bid_manager"], Grant.LIBRARY_EDITOR)
    taken = run_cli("rfp", "library", "import", "--starter")
    assert taken.code == 0, taken.err
    with reading(ctx.engine) as session:
        rows = session.exec(select(LibraryAnswer)).all()
    assert rows and {row.updated_by for row in rows} == {PEOPLE["bid_manager"]}


def test_the_library_service_refuses_a_person_with_no_grant_and_takes_an_admin(
    ctx: Context,
) -> None:
    starter = parse_library(ctx.settings.rules_dir / "answer_library.yaml", ctx.clock().date())
    new_bid(ctx)
    before = dump(ctx.engine)
    with pytest.raises(NotPermitted, match="library_editor role or an admin"):
        import_library(ctx, starter, by=PEOPLE["finance"])
    assert dump(ctx.engine) == before
    admin = admin_of(ctx)
    assert import_library(ctx, starter, by=admin.email).added == len(starter)


def test_library_editor_is_an_organisation_role_an_admin_grants(
    run_cli: RunCli, ctx: Context
) -> None:
    new_bid(ctx)
    granted = run_cli("people", "grant", PEOPLE["legal"], "--role", "library_editor")
    assert granted.code == 0, granted.err
    with reading(ctx.engine) as session:
        legal = session.exec(select(Person).where(Person.email == PEOPLE["legal"])).one()
    assert "library_editor" in legal.roles


# --- withdrawals ------------------------------------------------------------------------------


def test_finance_on_the_team_may_not_withdraw_the_bid(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = new_bid(ctx)
    _as(ctx, monkeypatch, PEOPLE["finance"])
    with reading(ctx.engine) as session:
        trail = len(session.exec(select(AuditEvent)).all())
    refused = run_cli("withdraw", ref, "--reason", "x", "--category", "price")
    _refused_in_one_line(refused, PEOPLE["finance"])
    assert "may not withdraw" in refused.err
    with reading(ctx.engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    assert len(events) == trail + 1  # the refusal, kept on the trail; nothing else
    assert (events[-1].trigger, events[-1].to_state) == ("withdraw_refused", events[-2].to_state)


@pytest.mark.parametrize("who", ["bid_manager", "management"])
def test_the_bid_manager_and_management_withdraw(ctx: Context, who: str) -> None:
    ref = new_bid(ctx)
    done = outcomes.withdraw(ctx, ref, reason="customer left", by=PEOPLE[who], category="price")
    assert done.to_state.value == "withdrawn"


def test_the_accounts_owner_withdraws_though_their_team_role_would_not(ctx: Context) -> None:
    from orchestrator.store.db import transaction
    from orchestrator.store.models import Account, Opportunity

    ref = new_bid(ctx)
    operations = PEOPLE["operations"]  # on the team (technical approver), not a withdrawer
    with pytest.raises(NotPermitted, match="may not withdraw"):
        outcomes.withdraw(ctx, ref, reason="x", by=operations, category="price")
    with transaction(ctx.engine) as session:
        opportunity = session.exec(select(Opportunity)).one()
        account = session.get(Account, opportunity.account_id)
        person = session.exec(select(Person).where(Person.email == operations)).one()
        assert account is not None
        account.owner_id = person.id
        session.add(account)
    done = outcomes.withdraw(ctx, ref, reason="x", by=operations, category="price")
    assert done.to_state.value == "withdrawn"


# --- forecast --save, renewals scan, deadlines --notify ----------------------------------------


def test_a_saved_forecast_needs_management(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_bid(ctx)
    _as(ctx, monkeypatch, PEOPLE["bid_manager"])
    before = dump(ctx.engine)
    refused = run_cli("forecast", "--save")
    _refused_in_one_line(refused, PEOPLE["bid_manager"])
    assert "management role" in refused.err
    assert dump(ctx.engine) == before
    assert run_cli("forecast").code == 0  # reading it needs no role
    _grant(ctx, PEOPLE["bid_manager"], Grant.MANAGEMENT)
    assert run_cli("forecast", "--save").code == 0
    assert dump(ctx.engine) != before


def test_the_renewal_scan_needs_management_or_the_schedule(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_bid(ctx)
    _as(ctx, monkeypatch, PEOPLE["bid_manager"])
    before = dump(ctx.engine)
    refused = run_cli("renewals", "scan")
    _refused_in_one_line(refused, PEOPLE["bid_manager"])
    assert dump(ctx.engine) == before
    with pytest.raises(NotPermitted):
        scan_renewals(ctx, actor=PEOPLE["sales_support"])
    assert scan_renewals(ctx).opened == []  # the schedule's own identity
    with pytest.raises(NotPermitted):  # management on one bid's team is not management
        scan_renewals(ctx, actor=PEOPLE["management"])
    _grant(ctx, PEOPLE["management"], Grant.MANAGEMENT)
    assert scan_renewals(ctx, actor=PEOPLE["management"]).opened == []
    monkeypatch.setenv("BID_TOKEN", people.issue_token(ctx, PEOPLE["management"], by=admin_of(ctx)))
    assert run_cli("renewals", "scan").code == 0


def test_deadline_warnings_are_sent_by_management_or_the_schedule(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_bid(ctx)
    _as(ctx, monkeypatch, PEOPLE["account_manager"])
    before = dump(ctx.engine)
    refused = run_cli("deadlines", "--notify")
    _refused_in_one_line(refused, PEOPLE["account_manager"])
    assert "send the deadline warnings" in refused.err
    assert dump(ctx.engine) == before
    assert run_cli("deadlines").code == 0  # the board is for everyone
    with pytest.raises(NotPermitted):
        deadlines.watch(ctx, by=PEOPLE["finance"])
    assert deadlines.watch(ctx, by=PEOPLE["finance"], notify=False).board is not None
    deadlines.watch(ctx)  # the schedule
    _grant(ctx, PEOPLE["account_manager"], Grant.MANAGEMENT)
    assert run_cli("deadlines", "--notify").code == 0
