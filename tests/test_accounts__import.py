"""Accounts as records: the import refuses bad rows one line each (cycles, unknown parents,
names differing only by case or accents, unknown tiers) and changes nothing; a good file
builds the group hierarchy; tier changes are management's, audited on the account's trail;
a new bid never changes its account's tier."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from orchestrator.bid.customers.accounts import import_accounts, set_tier
from orchestrator.bid.team.people import add_person, grant
from orchestrator.context import Context
from orchestrator.decisions.portfolio_rules import load_portfolio_rules
from orchestrator.errors import InputErrors, NotPermitted
from orchestrator.intake.accounts import parse_accounts
from orchestrator.store.models import Account, AccountEvent, AuditEvent, Grant, Person
from tests.conftest import REPO, RunCli
from tests.factories import PEOPLE, new_bid

RULES = load_portfolio_rules(REPO / "rules")
HEADER = "name,tier,parent,country,owner,customer_profile,service_level,potential_revenue_eur\n"


def _file(tmp_path: Path, body: str, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _lines(error: InputErrors) -> list[str]:
    return error.lines()[1:] if len(error.problems) > 1 else error.lines()


def test_each_bad_row_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "Acme,top,,BE,am@example.com,cost_driven,premium,100000\n"
        "ACME,major,,,,,,\n"  # the same name in capitals
        "Société Générale,major,,FR,,,,\n"
        "Societe generale,major,,FR,,,,\n"  # the same name without accents
        "Gold Corp,gold,,,,,,\n"
        "Self,major,self,,,,,\n"
        "Bad Country,major,,XX,,,,\n"
        "Bad Segment,major,,,,price_hunter,,\n"
        "Bad Amount,major,,,,,,12,5\n"
        ",major,,,,,,\n",
    )
    with pytest.raises(InputErrors) as caught:
        parse_accounts(path, RULES)
    lines = _lines(caught.value)
    file = str(path)
    expected = [
        (3, "name", "'ACME' and 'Acme' (row 2): the same account"),
        (5, "name", "'Societe generale' and 'Société Générale' (row 4): the same account"),
        (6, "tier", "unknown tier 'gold'"),
        (7, "parent", "cannot be its own parent"),
        (8, "country", "'XX' is not an ISO 3166"),
        (9, "customer_profile", "unknown value 'price_hunter'"),
        (10, None, "has 9 cells for 8 columns"),
        (11, "name", "is empty"),
    ]
    assert len(lines) == len(expected)
    for line, (row, field, reason) in zip(lines, expected, strict=True):
        where = f"{file}, row {row}" + (f", field '{field}'" if field else "")
        assert line.startswith(where), line
        assert reason in line, line


def _snapshot(ctx: Context) -> tuple[list[tuple[str, str, int | None]], int]:
    with Session(ctx.engine) as session:
        accounts = session.exec(select(Account).order_by(col(Account.id))).all()
        events = session.exec(select(AccountEvent)).all()
        return [(a.name, a.tier, a.parent_id) for a in accounts], len(events)


def test_unknown_parents_cycles_and_stored_spellings_refuse_the_file_whole(
    ctx: Context, tmp_path: Path
) -> None:
    first = _file(tmp_path, "Holding,top,,NL,,,,\nDaughter,major,Holding,BE,,,,\n", "first.csv")
    import_accounts(ctx, parse_accounts(first, RULES), file=str(first), actor="test")
    bad = _file(
        tmp_path,
        "A,major,B,,,,,\n"  # a cycle inside the file
        "B,major,A,,,,,\n"
        "Holding,top,Daughter,,,,,\n"  # a cycle through the stored hierarchy
        "Orphan,major,Nobody,,,,,\n"
        "DAUGHTER,major,,,,,,\n",  # the stored 'Daughter' spelt in capitals
        "bad.csv",
    )
    before = _snapshot(ctx)
    with pytest.raises(InputErrors) as caught:
        import_accounts(ctx, parse_accounts(bad, RULES), file=str(bad), actor="test")
    lines = caught.value.lines()
    where = f"{bad}, row"
    assert lines == [
        f"{bad}: 6 problems; nothing imported",
        f"{where} 2, field 'parent': the group hierarchy would be a cycle: A → B → A",
        f"{where} 3, field 'parent': the group hierarchy would be a cycle: B → A → B",
        f"{where} 4, field 'parent': the group hierarchy would be a cycle: "
        "Holding → Daughter → Holding",
        f"{where} 5, field 'parent': unknown parent 'Nobody': neither in this file nor a "
        "stored account",
        f"{where} 6, field 'name': 'DAUGHTER' is the stored account 'Daughter': the names "
        "differ only by case or accents (write it as stored)",
        f"{where} 6, field 'parent': the group hierarchy would be a cycle: "
        "Daughter → Holding → Daughter",
    ]
    assert _snapshot(ctx) == before


def test_the_cli_prints_one_line_a_problem_and_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    path = _file(tmp_path, "Acme,top,,,,,,\nÀcme,major,,,,,,\nX,platinum,,,,,,\n")
    result = run_cli("account", "import", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"error: {path}: 2 problems; nothing imported",
        f"error: {path}, row 3, field 'name': 'Àcme' and 'Acme' (row 2): the same account: the "
        "names differ only by case or accents",
        f"error: {path}, row 4, field 'tier': unknown tier 'platinum'; tiers are top, major, "
        "middle_market, direct, installed_base",
    ]
    assert run_cli("account", "list", "--json").out.strip() == "[]"


def test_a_good_file_builds_the_group_and_records_each_account(
    ctx: Context, tmp_path: Path
) -> None:
    path = _file(
        tmp_path,
        "Primagaz,middle_market,SHV Holding,BE,ann@example.com,cost_driven,standard,120000\n"
        "SHV Holding,top,,NL,ann@example.com,relationship_driven,premium,3000000\n"
        "Makro,major,SHV Holding,NL,,,,\n",
    )
    result = import_accounts(ctx, parse_accounts(path, RULES), file=str(path), actor="test")
    assert sorted(result.created) == ["Makro", "Primagaz", "SHV Holding"]
    with Session(ctx.engine) as session:
        accounts = {a.name: a for a in session.exec(select(Account)).all()}
        owner = session.exec(select(Person).where(Person.email == "ann@example.com")).one()
        events = session.exec(select(AccountEvent).order_by(col(AccountEvent.id))).all()
    holding = accounts["SHV Holding"]
    assert accounts["Primagaz"].parent_id == holding.id == accounts["Makro"].parent_id
    assert holding.parent_id is None and holding.owner_id == owner.id
    assert (accounts["Primagaz"].country, accounts["Primagaz"].customer_profile) == (
        "BE",
        "cost_driven",
    )
    assert accounts["Primagaz"].potential_revenue_eur == 120000.0
    assert [(e.action, e.to_tier) for e in events if e.action == "created"] == [
        ("created", "middle_market"),
        ("created", "top"),
        ("created", "major"),
    ]
    # the same file again changes nothing; a changed tier is recorded with the file's row
    again = import_accounts(ctx, parse_accounts(path, RULES), file=str(path), actor="test")
    assert (again.created, again.updated, again.tier_changes) == ([], [], [])
    moved = _file(tmp_path, "Makro,middle_market,,,,,,\n", "moved.csv")
    changed = import_accounts(ctx, parse_accounts(moved, RULES), file=str(moved), actor="test")
    assert [(c.account, c.from_tier, c.to_tier) for c in changed.tier_changes] == [
        ("Makro", "major", "middle_market")
    ]
    with Session(ctx.engine) as session:
        last = session.exec(select(AccountEvent).where(AccountEvent.action == "tier_changed")).one()
    assert last.reason == f"imported from {moved} row 2"


def test_only_management_or_an_admin_moves_an_account(ctx: Context) -> None:
    new_bid(ctx, site_count=0, account={"name": "Acme Logistics", "tier": "major"})
    with pytest.raises(NotPermitted, match="only management or an admin"):
        set_tier(ctx, "acme logistics", "top", reason="strategic now", actor=PEOPLE["bid_manager"])
    boss = add_person(ctx, "marc@example.com", by=_admin(ctx), name="Marc")
    grant(ctx, boss.email, Grant.MANAGEMENT, by=_admin(ctx))
    change = set_tier(ctx, "ACME LOGISTICS", "top", reason="strategic now", actor=boss.email)
    assert (change.from_tier, change.to_tier, change.changed) == ("major", "top", True)
    assert not set_tier(ctx, "Acme Logistics", "top", reason="again", actor=boss.email).changed
    with Session(ctx.engine) as session:
        events = session.exec(select(AccountEvent).order_by(col(AccountEvent.id))).all()
    assert [(e.action, e.from_tier, e.to_tier, e.actor, e.reason) for e in events] == [
        ("created", None, "major", "test", None),
        ("tier_changed", "major", "top", boss.email, "strategic now"),
    ]


def _admin(ctx: Context) -> Person:
    from orchestrator.bid.team.people import bootstrap_admin

    with Session(ctx.engine) as session:
        found = [p for p in session.exec(select(Person)).all() if Grant.ADMIN in p.roles]
    if found:
        return found[0]
    made = bootstrap_admin(ctx, "admin@example.com", "Admin")
    assert made is not None
    return made.person


def test_a_new_bid_never_changes_its_accounts_tier(ctx: Context) -> None:
    first = new_bid(ctx, site_count=0, account={"name": "Acme Logistics", "tier": "major"})
    second = new_bid(
        ctx,
        site_count=0,
        account={"name": "ACME logistics", "tier": "top"},
        rfp_reference="ACME-RFP-2",
    )
    with Session(ctx.engine) as session:
        accounts = session.exec(select(Account)).all()
        created = session.exec(
            select(AuditEvent).where(AuditEvent.trigger == "create").order_by(col(AuditEvent.id))
        ).all()
    assert [(a.name, a.tier) for a in accounts] == [("Acme Logistics", "major")]
    assert [e.inputs["account_tier"] for e in created] == ["major", "major"]
    assert "tier_in_file_ignored" not in created[0].inputs
    assert created[1].inputs["tier_in_file_ignored"] == "top"
    assert (first, second) == ("OPP-0001", "OPP-0002")
