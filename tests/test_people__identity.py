"""Nobody approves as someone else: identity fields change only by an admin, organisation roles
are granted, never taken from a bid's team list, and every change names a person who holds a
role on the bid."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlmodel import select

from orchestrator.bid.opportunity.onboarding import create_opportunity
from orchestrator.bid.progress import services
from orchestrator.bid.team import people
from orchestrator.context import Context
from orchestrator.errors import ApprovalError, InputError, NotAuthenticated, NotFound, NotPermitted
from orchestrator.intake.opportunity import parse_opportunity
from orchestrator.store.db import MIGRATIONS_DIR, reading
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    Credential,
    Grant,
    PeopleEvent,
    Person,
)
from tests.conftest import RunCli
from tests.factories import APPROVERS, PEOPLE, carry_to_governance, new_bid, opportunity_yaml
from tests.support.dump import dump
from tests.support.slack_api import admin_of

ATTACK_TEAM = {
    "finance": {"email": PEOPLE["finance"], "slack_user_id": "UEVIL"},
    "management": "mallory@example.com",
    "legal": "mallory@example.com",
}


def _in_governance(ctx: Context, **overrides: Any) -> str:
    ref = new_bid(ctx, **overrides)
    carry_to_governance(ctx, ref)
    return ref


def _person(ctx: Context, email: str) -> Person:
    with reading(ctx.engine) as session:
        return session.exec(select(Person).where(Person.email == email)).one()


def _trail(ctx: Context) -> list[tuple[str, str, str]]:
    with reading(ctx.engine) as session:
        rows = session.exec(select(PeopleEvent).order_by(PeopleEvent.id)).all()  # type: ignore[arg-type]
        return [(e.actor, e.action, e.subject) for e in rows]


# --- item 1: a bid's YAML never changes who people are --------------------------------------


def test_a_new_bids_yaml_cannot_give_an_existing_person_another_slack_id(
    ctx: Context, tmp_path: Path
) -> None:
    admin = admin_of(ctx)
    _in_governance(ctx)
    people.set_person(ctx, PEOPLE["finance"], by=admin, slack_user_id="UFIN")
    before = dump(ctx.engine)
    file = opportunity_yaml(
        ctx, tmp_path / "evil.yaml", account={"name": "Evil Corp", "tier": "top"}, team=ATTACK_TEAM
    )
    with pytest.raises(InputError) as refused:
        create_opportunity(ctx, parse_opportunity(file, ctx.clock().date()), actor="test")
    error = refused.value
    assert (error.file, error.field) == (str(file), "team.finance.slack_user_id")
    assert error.row == file.read_text().splitlines().index("    slack_user_id: UEVIL") + 1
    assert "never changes a person" in str(error)
    assert dump(ctx.engine) == before
    assert _person(ctx, PEOPLE["finance"]).slack_user_id == "UFIN"


def test_roles_named_in_one_bids_team_hold_on_that_bid_only(ctx: Context, tmp_path: Path) -> None:
    ref = _in_governance(ctx)
    team = dict(ATTACK_TEAM, finance={"email": "eve@example.com", "slack_user_id": "UEVIL"})
    file = opportunity_yaml(
        ctx, tmp_path / "other.yaml", account={"name": "Evil Corp", "tier": "top"}, team=team
    )
    # a new person with a Slack id: only an admin (or in-process automation) may set one
    someone = people.add_person(ctx, "someone@example.com", by=admin_of(ctx))
    with pytest.raises(InputError, match="only an admin sets a person's Slack user id"):
        create_opportunity(ctx, parse_opportunity(file, ctx.clock().date()), someone.email)
    del team["finance"]
    file = opportunity_yaml(
        ctx, tmp_path / "other.yaml", account={"name": "Evil Corp", "tier": "top"}, team=team
    )
    create_opportunity(ctx, parse_opportunity(file, ctx.clock().date()), someone.email)
    assert _person(ctx, "mallory@example.com").roles == []
    with reading(ctx.engine) as session:
        requested = {
            a.area
            for a in session.exec(select(Approval)).all()
            if a.status == ApprovalStatus.REQUESTED
        }
    attacked = sorted(requested & {"legal", "management"})
    assert "legal" in attacked
    for area in attacked:
        with pytest.raises(ApprovalError, match="may not decide"):
            services.approve(ctx, ref, area=area, by="mallory@example.com")
    with reading(ctx.engine) as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "approve_refused")
        ).all()
    assert {e.actor for e in refused} == {"mallory@example.com"}
    assert ("someone@example.com", "person_created", "mallory@example.com") in _trail(ctx)


def test_organisation_roles_are_granted_by_an_admin_and_count_on_every_bid(
    ctx: Context,
) -> None:
    admin = admin_of(ctx)
    ref = _in_governance(ctx)
    cfo = people.add_person(ctx, "cfo@example.com", by=admin, name="Chief Financial Officer")
    with pytest.raises(ApprovalError):
        services.approve(ctx, ref, area="financial", by=cfo.email)
    with pytest.raises(NotPermitted, match="only an admin may grant"):
        people.grant(ctx, cfo.email, Grant.FINANCE, by=cfo)
    assert people.grant(ctx, cfo.email, Grant.FINANCE, by=admin)
    granted = services.approve(ctx, ref, area="financial", by=cfo.email)
    assert "financial granted by cfo@example.com on proposal version" in granted.message
    assert people.revoke(ctx, cfo.email, Grant.FINANCE, by=admin)
    assert _person(ctx, cfo.email).roles == []
    with pytest.raises(NotPermitted, match="only admin"):
        people.revoke(ctx, admin.email, Grant.ADMIN, by=admin)
    actions = [action for _, action, subject in _trail(ctx) if subject == cfo.email]
    assert actions == ["person_added", "granted", "revoked"]


def test_identity_fields_change_only_by_an_admin_on_the_admin_trail(ctx: Context) -> None:
    admin = admin_of(ctx)
    new_bid(ctx)
    finance = _person(ctx, PEOPLE["finance"])
    with pytest.raises(NotPermitted):
        people.set_person(ctx, finance.email, by=finance, slack_user_id="UFIN")
    people.set_person(ctx, finance.email, by=admin, slack_user_id="UFIN", name="Fin Ance")
    with pytest.raises(InputError, match=r"already fin@example\.com's"):
        people.set_person(ctx, PEOPLE["legal"], by=admin, slack_user_id="UFIN")
    with pytest.raises(InputError, match="is not a Slack user id"):
        people.set_person(ctx, PEOPLE["legal"], by=admin, slack_user_id="<@U1>")
    (change,) = [e for e in _trail(ctx) if e[1] == "person_changed"]
    assert change == (admin.email, "person_changed", finance.email)
    with reading(ctx.engine) as session:
        details = (
            session.exec(select(PeopleEvent).where(PeopleEvent.action == "person_changed"))
            .one()
            .details
        )
    assert details == {"name": ["Fin", "Fin Ance"], "slack_user_id": [None, "UFIN"]}


# --- credentials ---------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_revocable(ctx: Context) -> None:
    admin = admin_of(ctx)
    new_bid(ctx)
    token = people.issue_token(ctx, PEOPLE["finance"], by=admin)
    assert people.authenticate(ctx, token).email == PEOPLE["finance"]
    assert token not in dump(ctx.engine)
    with reading(ctx.engine) as session:
        hashes = session.exec(select(Credential.token_hash)).all()
    assert people.token_digest(token) in hashes
    with pytest.raises(NotPermitted):
        people.issue_token(ctx, PEOPLE["legal"], by=_person(ctx, PEOPLE["finance"]))
    assert people.revoke_tokens(ctx, PEOPLE["finance"], by=admin) == 1
    with pytest.raises(NotAuthenticated, match="revoked"):
        people.authenticate(ctx, token)
    with pytest.raises(NotAuthenticated, match="unknown"):
        people.authenticate(ctx, token + "x")


def test_the_folder_admin_is_made_on_first_use_with_a_private_token_file(
    run_cli: RunCli, ctx: Context
) -> None:
    result = run_cli("whoami", "--json")
    assert result.code == 0, result.err
    token_file = ctx.settings.admin_token_file
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert people.authenticate(ctx, token_file.read_text().strip()).email in result.out
    assert run_cli("whoami", "--json").out == result.out  # the same admin, not a second one
    assert len([p for p in people.list_people(ctx) if "admin" in p["grants"]]) == 1


def test_a_folder_admin_token_the_local_service_wrote_first_is_adopted(
    run_cli: RunCli, ctx: Context
) -> None:
    token_file = ctx.settings.admin_token_file
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text("service-made-token\n")
    assert run_cli("whoami").code == 0
    assert token_file.read_text() == "service-made-token\n"  # kept, not replaced
    assert "admin" in people.authenticate(ctx, "service-made-token").roles


def test_a_lost_admin_token_is_recovered_through_the_database_door(
    run_cli: RunCli, ctx: Context
) -> None:
    assert run_cli("whoami").code == 0
    token_file = ctx.settings.admin_token_file
    assert run_cli("people", "recover-admin").code == 2  # the file works: nothing to do
    token_file.unlink()
    refused = run_cli("whoami")
    assert refused.code == 2 and "bid login" in refused.err
    assert run_cli("people", "recover-admin").code == 0
    assert "admin" in people.authenticate(ctx, token_file.read_text().strip()).roles
    assert [a for _, a, _ in _trail(ctx)][-2:] == ["token_issued", "admin_token_recovered"]


def test_login_keeps_the_token_for_this_os_user_only(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    new_bid(ctx)
    assert run_cli("whoami").code == 0  # the folder's admin
    issued = run_cli("people", "token", PEOPLE["finance"])
    token = issued.out.strip()
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))  # bid login < token-file
    assert run_cli("login").code == 0
    credentials = Path(os.environ["BID_CREDENTIALS_FILE"])
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert PEOPLE["finance"] in run_cli("whoami").out
    assert run_cli("people", "grant", PEOPLE["finance"], "--role", "admin").code == 2
    assert run_cli("logout").code == 0
    assert PEOPLE["finance"] not in run_cli("whoami").out


# --- item 13: who is the CLI user ------------------------------------------------------------


def test_nobody_and_random_interns_record_nothing(run_cli: RunCli, ctx: Context) -> None:
    ref = new_bid(ctx)
    before = dump(ctx.engine)
    withdrawn = run_cli(
        "withdraw", ref, "--reason", "x", "--category", "price", "--by", "nobody-at-all"
    )
    assert (withdrawn.code, withdrawn.err.strip()) == (
        2,
        "error: no person with e-mail nobody-at-all (an admin adds them: "
        "bid people add nobody-at-all --name 'Their Name')",
    )
    won = run_cli("result", ref, "--won", "--reason", "x", "--by", "random-intern@example.com")
    assert won.code == 2 and "random-intern@example.com" in won.err
    assert "Traceback" not in withdrawn.err + won.err
    # the admin bootstrap is the only change: one admin, one token, and its trail
    with reading(ctx.engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.trigger == "withdraw")).all() == []
    assert dump(ctx.engine).count("\n") == before.count("\n") + 4


def test_a_person_without_a_role_on_the_bid_changes_nothing(
    run_cli: RunCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = new_bid(ctx)
    admin = admin_of(ctx)
    outsider = people.add_person(ctx, "outsider@example.com", by=admin)
    monkeypatch.setenv("BID_TOKEN", people.issue_token(ctx, outsider.email, by=admin))
    for args in (
        ("advance", ref),
        ("withdraw", ref, "--reason", "x", "--category", "price"),
        ("strategy", ref, "cheaper"),
        ("decide", ref, "--outcome", "bid", "--reason", "x", "--by", PEOPLE["bid_manager"]),
    ):
        result = run_cli(*args)
        assert result.code == 2, (args, result)
        assert "Traceback" not in result.err
        assert "outsider@example.com" in result.err
    with reading(ctx.engine) as session:
        refusals = session.exec(
            select(AuditEvent).where(AuditEvent.actor == "outsider@example.com")
        ).all()
    assert sorted(e.trigger for e in refusals) == [
        "advance_refused",
        "strategy_refused",
        "withdraw_refused",
    ]


def test_an_admin_records_for_a_team_member_and_the_trail_says_so(
    run_cli: RunCli, ctx: Context
) -> None:
    ref = new_bid(ctx)
    services.run_to_wait(ctx, ref)
    result = run_cli(
        "decide", ref, "--outcome", "bid", "--reason", "fits", "--by", PEOPLE["bid_manager"]
    )
    assert result.code == 0, result.err
    history = run_cli("history", ref, "--json").out
    admin = next(p["email"] for p in people.list_people(ctx) if "admin" in p["grants"])
    assert f'"actor": "{PEOPLE["bid_manager"]} (recorded by {admin})"' in history
    with reading(ctx.engine) as session:
        decided = session.exec(select(AuditEvent).where(AuditEvent.trigger == "decide_bid")).one()
    assert (decided.actor, decided.inputs["recorded_by"]) == (PEOPLE["bid_manager"], admin)


def test_a_recorder_may_record_for_others_and_a_team_member_only_for_themselves(
    ctx: Context,
) -> None:
    admin = admin_of(ctx)
    new_bid(ctx)
    member = _person(ctx, PEOPLE["sales_support"])
    with pytest.raises(NotPermitted, match="may not act for"):
        people.act_for(ctx, member, PEOPLE["bid_manager"])
    assert people.act_for(ctx, member, None).actor == member.email
    people.grant(ctx, member.email, Grant.RECORDER, by=admin)
    acting = people.act_for(ctx, _person(ctx, member.email), PEOPLE["bid_manager"])
    assert (acting.actor, acting.recorder) == (PEOPLE["bid_manager"], member.email)
    with pytest.raises(NotFound):
        people.act_for(ctx, _person(ctx, member.email), "ghost@example.com")


# --- approvals bind to the version shown -----------------------------------------------------


def test_bid_approve_prints_the_version_and_a_pinned_version_must_be_current(
    run_cli: RunCli, ctx: Context
) -> None:
    ref = _in_governance(ctx)
    with reading(ctx.engine) as session:
        version = services.get_opportunity(session, ref).proposal_hash or ""
    stale = run_cli(
        "approve", ref, "--area", "technical", "--by", APPROVERS["technical"], "--version", "0" * 12
    )
    assert stale.code == 2 and "outdated proposal version" in stale.err
    pinned = run_cli(
        "approve",
        ref,
        "--area",
        "technical",
        "--by",
        APPROVERS["technical"],
        "--version",
        version[:8],
    )
    assert pinned.code == 0, pinned.err
    assert f"on proposal version {version[:12]}" in pinned.out
    with reading(ctx.engine) as session:
        granted = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "approval_granted")
        ).one()
    assert granted.inputs["proposal_hash"] == version


# --- migration 0004 --------------------------------------------------------------------------


def test_the_migration_drops_team_roles_and_shared_slack_ids_on_the_admin_trail(
    ctx: Context,
) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = ctx.engine
    command.downgrade(config, "0003")
    with ctx.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO person (name, email, slack_user_id, roles) VALUES "
                "('F', 'f@example.com', 'U1', '[\"finance\", \"bid_manager\"]'), "
                "('E', 'e@example.com', 'U1', '[]'), ('K', 'k@example.com', 'U2', '[]')"
            )
        )
    command.upgrade(config, "head")
    with reading(ctx.engine) as session:
        rows = {p.email: (p.slack_user_id, p.roles) for p in session.exec(select(Person)).all()}
        events = {e.subject: e.details for e in session.exec(select(PeopleEvent)).all()}
    assert rows == {
        "f@example.com": (None, []),
        "e@example.com": (None, []),
        "k@example.com": ("U2", []),
    }
    assert events == {
        "f@example.com": {
            "dropped_roles": ["finance", "bid_manager"],
            "cleared_slack_user_id": "U1",
        },
        "e@example.com": {"cleared_slack_user_id": "U1"},
    }
