"""Quote import: a whole file or nothing, firm supersedes budgetary, margin and approvals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from orchestrator.bid.governance import margin_floor_pct
from orchestrator.bid.quotes import import_quotes
from orchestrator.commercial.quotes import catalogue_for, quote_status
from orchestrator.config import load_settings
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.decisions.engine import Decision
from orchestrator.errors import InputError, InputErrors
from orchestrator.store.db import open_database, transaction
from orchestrator.store.models import Approval, AuditEvent, Opportunity, Quote
from tests.factories_sites import context_on, make_opportunity, quote_rows, site_specs, write_quotes

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class FakeRules:
    """The rules-engine port, answering the governance table with a fixed floor."""

    def __init__(self, floor: float) -> None:
        self.floor = floor
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def evaluate(self, table: str, inputs: Any) -> Decision:
        self.calls.append((table, dict(inputs)))
        return Decision(
            table=table,
            rule_file="fake",
            rule_hash="0",
            inputs=dict(inputs),
            outputs={
                "approvals": [{"area": "financial", "roles": ["finance"], "reason": "always"}],
                "margin_floor_pct": self.floor,
                "management_tcv_eur": 1_000_000,
            },
            matched_rows=[],
            evaluated_at=NOW,
        )


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    return open_database(f"sqlite:///{tmp_path}/t.db")


@pytest.fixture()
def catalogue() -> Catalogue:
    return catalogue_for(load_settings().rules_dir)


def _import(
    engine: Engine, opp: Opportunity, path: Path, catalogue: Catalogue, floor: float = 15.0
) -> Any:
    ctx = context_on(engine, now=NOW, rules=FakeRules(floor))
    return import_quotes(ctx, opp.ref, path, actor="sam@example.com")


def _quotes(engine: Engine) -> list[Quote]:
    with Session(engine) as session:
        return list(session.exec(select(Quote)).all())


def test_budgetary_then_firm_supersedes(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    opp = make_opportunity(engine, sites=32)
    specs = site_specs(32)
    budgetary = write_quotes(tmp_path / "b.csv", quote_rows(specs, monthly=200))
    result = _import(engine, opp, budgetary, catalogue)
    served = len(quote_rows(specs))
    assert (result.imported, result.budgetary, result.firm, result.superseded) == (
        served,
        served,
        0,
        0,
    )
    assert result.margin_before is None and result.margin_after is not None

    firm = write_quotes(
        tmp_path / "f.csv",
        quote_rows(specs[:5], kind="firm", monthly=210, valid_until="2026-11-30"),
    )
    result = _import(engine, opp, firm, catalogue)
    assert result.firm == 5 and result.superseded == 5
    assert result.expired == tuple(s.site_id for s in specs[:5])
    live = [q for q in _quotes(engine) if not q.superseded]
    assert len(live) == served
    assert {q.site_id for q in live if q.kind == "firm"} == {s.site_id for s in specs[:5]}

    with Session(engine) as session:
        row = session.get(Opportunity, opp.id)
        assert row is not None
        report = quote_status(session, row, catalogue, TODAY)
    counts = report.counts
    assert counts["expired"] == 5
    assert counts["budgetary"] == served - 5
    assert counts["missing"] == 32 - served  # the unserved country has no quote
    assert report.to_json()["margin_pct"] == report.margin.margin_pct


def test_budgetary_after_firm_does_not_replace_it(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    opp = make_opportunity(engine, sites=3, countries=("DE",))
    specs = site_specs(3, ("DE",))
    _import(
        engine, opp, write_quotes(tmp_path / "f.csv", quote_rows(specs, kind="firm")), catalogue
    )
    _import(engine, opp, write_quotes(tmp_path / "b.csv", quote_rows(specs)), catalogue)
    live = [q for q in _quotes(engine) if not q.superseded]
    assert sorted(q.kind for q in live) == ["firm"] * 3


def test_margin_converts_currencies(engine: Engine, catalogue: Catalogue, tmp_path: Path) -> None:
    opp = make_opportunity(engine, sites=1, countries=("GB",))  # fiber 50 Mbps: list 420/900
    rows = [("S-00001", "bt", "firm", 100, 0, "GBP", "2027-06-30")]
    result = _import(engine, opp, write_quotes(tmp_path / "q.csv", rows), catalogue)
    revenue = 420 * 36 + 900
    cost = 100 * 36 * catalogue.fx.rates["GBP"]
    assert result.margin_after == pytest.approx((revenue - cost) / revenue * 100, abs=0.01)


BAD_ROWS = [
    ("unknown site", ("S-99999", "telekom", "firm", 1, 1, "EUR", "2027-01-01"), "site_id"),
    ("bad kind", ("S-00001", "telekom", "final", 1, 1, "EUR", "2027-01-01"), "kind"),
    ("negative cost", ("S-00001", "telekom", "firm", -5, 1, "EUR", "2027-01-01"), "monthly_cost"),
    ("not a number", ("S-00001", "telekom", "firm", 1, "abc", "EUR", "2027-01-01"), "one_off_cost"),
    ("bad currency", ("S-00001", "telekom", "firm", 1, 1, "XYZ", "2027-01-01"), "currency"),
    ("bad date", ("S-00001", "telekom", "firm", 1, 1, "EUR", "31/01/2027"), "valid_until"),
    ("unknown provider", ("S-00001", "acme", "firm", 1, 1, "EUR", "2027-01-01"), "provider"),
]


@pytest.mark.parametrize(("case", "bad", "field"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_row_refuses_whole_file(
    engine: Engine,
    catalogue: Catalogue,
    tmp_path: Path,
    case: str,
    bad: tuple[Any, ...],
    field: str,
) -> None:
    opp = make_opportunity(engine, sites=2, countries=("DE",))
    good = ("S-00002", "telekom", "budgetary", 100, 100, "EUR", "2027-01-01")
    path = write_quotes(tmp_path / "q.csv", [good, bad])
    with pytest.raises(InputError) as caught:
        _import(engine, opp, path, catalogue)
    error = caught.value
    assert (error.file, error.row, error.field) == (str(path), 3, field)
    assert f"{path}" in str(error) and "row 3" in str(error) and f"'{field}'" in str(error)
    assert _quotes(engine) == []


def test_missing_column(engine: Engine, catalogue: Catalogue, tmp_path: Path) -> None:
    opp = make_opportunity(engine, sites=1, countries=("DE",))
    path = tmp_path / "q.csv"
    path.write_text(
        "site_id,provider,kind,monthly_cost,one_off_cost,valid_until\n"
        "S-00001,telekom,firm,1,1,2027-01-01\n"
    )
    with pytest.raises(InputError) as caught:
        _import(engine, opp, path, catalogue)
    assert (caught.value.row, caught.value.field) == (1, "currency")
    assert _quotes(engine) == []


def test_several_bad_rows_one_line_each(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    opp = make_opportunity(engine, sites=3, countries=("DE",))
    rows = [
        ("S-00001", "telekom", "firm", 1, 1, "EUR", "2027-01-01"),
        ("S-00002", "telekom", "maybe", 1, 1, "EUR", "2027-01-01"),
        ("S-00003", "telekom", "firm", 1, 1, "EUR", "tomorrow"),
        ("S-00001", "telekom", "firm", 2, 2, "EUR", "2027-01-01"),
    ]
    path = write_quotes(tmp_path / "q.csv", rows)
    with pytest.raises(InputErrors) as caught:
        _import(engine, opp, path, catalogue)
    lines = caught.value.lines()
    assert lines[0] == f"{path}: 3 problems; nothing imported"
    assert [e.row for e in caught.value.problems] == [3, 4, 5]
    assert [e.field for e in caught.value.problems] == ["kind", "valid_until", "site_id"]
    assert len(lines) == 4
    assert _quotes(engine) == []


def _grant_financial(engine: Engine, opp: Opportunity) -> None:
    with transaction(engine) as session:
        session.add(
            Approval(
                opportunity_id=opp.id or 0, area="financial", status="granted", proposal_hash="abc"
            )
        )


def test_firm_quote_below_floor_invalidates_financial_approval(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    opp = make_opportunity(engine, sites=4, countries=("DE",))
    specs = site_specs(4, ("DE",))
    _import(
        engine, opp, write_quotes(tmp_path / "b.csv", quote_rows(specs, monthly=100)), catalogue
    )
    _grant_financial(engine, opp)
    # firm quotes at nearly the list price: the margin falls under 15%
    firm = write_quotes(tmp_path / "f.csv", quote_rows(specs, kind="firm", monthly=650, one_off=0))
    result = _import(engine, opp, firm, catalogue)
    assert result.margin_floor_pct == 15.0
    assert result.margin_after is not None and result.margin_after < 15.0
    assert len(result.invalidated_approvals) == 1
    with Session(engine) as session:
        approvals = session.exec(select(Approval).order_by(col(Approval.id))).all()
        events = session.exec(
            select(AuditEvent).where(AuditEvent.trigger != "quotes_imported")
        ).all()
    assert [(a.area, a.status) for a in approvals] == [
        ("financial", "invalidated"),
        ("financial", "requested"),
    ]
    assert len(events) == 1
    event = events[0]
    assert event.trigger == "approval_invalidated" and event.actor == "sam@example.com"
    assert f"{result.margin_before:.2f}%" in (event.reason or "")
    assert f"{result.margin_after:.2f}%" in (event.reason or "")


def test_firm_quote_above_floor_keeps_approval(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    opp = make_opportunity(engine, sites=2, countries=("DE",))
    _grant_financial(engine, opp)
    firm = write_quotes(tmp_path / "f.csv", quote_rows(site_specs(2, ("DE",)), kind="firm"))
    result = _import(engine, opp, firm, catalogue)
    assert result.invalidated_approvals == ()
    with Session(engine) as session:
        assert [a.status for a in session.exec(select(Approval)).all()] == ["granted"]


def test_real_governance_table_gives_the_floor(tmp_path: Path) -> None:
    from orchestrator.decisions.engine import ZenRulesEngine

    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    ctx = context_on(engine, now=NOW, rules=ZenRulesEngine(load_settings().rules_dir))
    assert margin_floor_pct(ctx, "top", 500_000.0, 20.0) == 15.0
