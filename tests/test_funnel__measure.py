"""The funnel measured from the stage history, checked against the factory's parameters."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.decisions.funnel_rules import parse_period
from orchestrator.funnel.measure import (
    FUNNEL_STAGES,
    ShapeKind,
    funnel_report,
    load_funnel_config,
    percent_of_target,
)
from orchestrator.lifecycle.table import State
from orchestrator.store.db import open_database
from tests.factories_history import (
    NOW,
    OWNERS,
    BidSpec,
    build_history,
    custom_spec,
    entered,
    reached,
    specs_of_kinds,
    stage_at,
    write_history,
)

RULES = Path(__file__).resolve().parents[1] / "rules"
S = State


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    with Session(engine) as session:
        yield session


def test_study_example_target_11_contracts_7_won_is_64_percent(session: Session) -> None:
    """Study §2.2.2.1: eleven contracts targeted, seven signed — 64%, rounded half up."""
    specs = []
    signed = [datetime(2026, 10, d, 10, tzinfo=UTC) for d in (1, 5, 9, 13, 17, 21, 25)]
    signed += [datetime(2026, 9, 29, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)]
    for i, at in enumerate(signed):
        visits = [
            (S.CUSTOMER_DECISION, at - timedelta(weeks=6)),
            (S.CONTRACT_PREPARATION, at - timedelta(weeks=2)),
            (S.CONTRACTED, at),
        ]
        specs.append(custom_spec(i, visits))
    write_history(session, specs)
    report = funnel_report(
        session, RULES, parse_period("2026-Q4"), now=datetime(2027, 2, 1, tzinfo=UTC)
    )
    contracted = report.stages[-1]
    assert (contracted.stage, contracted.count, contracted.target) == (S.CONTRACTED, 7, 11)
    assert contracted.percent_of_target == 64


@pytest.mark.parametrize(
    ("actual", "target", "percent"),
    [(7, 11, 64), (37, 48, 77), (1, 8, 13), (1, 200, 1), (0, 5, 0), (12, 11, 109), (3, 0, None)],
)
def test_percent_of_target_rounds_half_up(actual: int, target: int, percent: int | None) -> None:
    # 1/8 = 12.5% → 13 and 1/200 = 0.5% → 1: half up, not banker's rounding
    assert percent_of_target(actual, target) == percent


def _nearest_rank_p90(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


def _expected_stage(
    specs: list[BidSpec], stage: State, start: datetime, end: datetime, now: datetime
) -> dict[str, object]:
    as_of = min(now, end)
    if stage is S.CONTRACTED:
        count = sum(1 for s in specs if (at := entered(s, stage)) and start <= at < as_of)
    else:
        count = sum(1 for s in specs if stage_at(s, as_of) == stage)
    cohort = [s for s in specs if start <= s.start < end]
    reached_it = [s for s in cohort if stage in reached(s)]
    later = set(FUNNEL_STAGES[FUNNEL_STAGES.index(stage) + 1 :])
    left = [s for s in reached_it if stage_at(s, NOW + timedelta(days=3650)) != stage]
    conversion = (
        sum(1 for s in left if reached(s) & later) / len(left)
        if left and stage is not S.CONTRACTED
        else None
    )
    weeks = []
    for s in left:
        if stage is S.CONTRACTED:
            continue
        # each visit (qualification also counts strategy rework) lasted spec.weeks(state)
        visits = [
            st
            for st, _ in s.visits
            if st == stage or (stage is S.QUALIFICATION and st is S.STRATEGY_REWORK)
        ]
        weeks.append(float(sum(s.weeks(st) for st in visits)))
    return {
        "count": count,
        "conversion": conversion,
        "decided": len(left) if stage is not S.CONTRACTED else 0,
        "median_weeks": statistics.median(weeks) if weeks else None,
        "p90_weeks": _nearest_rank_p90(weeks) if weeks else None,
    }


@pytest.mark.parametrize("label", ["2025", "2025-Q3", "2026-Q2", "2026-Q4"])
@pytest.mark.parametrize("owner", [None, OWNERS[1]])
def test_every_figure_matches_the_factory(session: Session, label: str, owner: str | None) -> None:
    specs = build_history(session)
    period = parse_period(label)
    start = datetime.combine(period.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(period.end, datetime.min.time(), tzinfo=UTC)
    mine = [s for s in specs if owner is None or s.owner == owner]
    config = load_funnel_config(RULES)
    report = funnel_report(session, RULES, period, now=NOW, owner=owner)
    assert report.cohort_size == sum(1 for s in mine if start <= s.start < end)
    assert report.cohort_size > 0
    targets: dict[State, int | None] = {rule.stage: rule.target for rule in config.stages}
    if owner is not None:
        targets = {stage: config.owners[owner].get(stage) for stage in FUNNEL_STAGES}
    quarterly_contracts = targets[S.CONTRACTED]
    if quarterly_contracts is not None:  # a flow: scaled to the period (a year is 4 quarters)
        quarters = {"2025": 4, "2025-Q3": 1, "2026-Q2": 1, "2026-Q4": 1}[label]
        targets[S.CONTRACTED] = quarterly_contracts * quarters
    for figures in report.stages:
        expected = _expected_stage(mine, figures.stage, start, end, NOW)
        target = targets[figures.stage]
        assert figures.target == target
        assert figures.count == expected["count"], figures.stage
        if target:
            assert figures.percent_of_target == math.floor(100 * figures.count / target + 0.5)
        assert figures.decided == expected["decided"], figures.stage
        assert figures.conversion == pytest.approx(expected["conversion"]), figures.stage
        assert figures.median_weeks == pytest.approx(expected["median_weeks"]), figures.stage
        assert figures.p90_weeks == pytest.approx(expected["p90_weeks"]), figures.stage
        assert figures.expected_weeks == config.stage(figures.stage).weeks


def test_the_factory_history_is_a_funnel_with_early_elimination(session: Session) -> None:
    specs = build_history(session)
    report = funnel_report(session, RULES, parse_period("2025"), now=NOW)
    cohort = [s for s in specs if s.start.year == 2025]
    skipped = sum(1 for s in cohort if s.kind == "hybrid_won" and S.BID_PRODUCTION in reached(s))
    assert report.shape.skipped_share == pytest.approx(skipped / len(cohort))
    conversions = [f.conversion for f in report.stages if f.conversion is not None]
    assert report.shape.survival == pytest.approx(math.prod(conversions))
    early = report.stages[0].conversion * report.stages[1].conversion  # type: ignore[operator]
    assert report.shape.early_elimination_share == pytest.approx(
        (1 - early) / (1 - math.prod(conversions))
    )
    assert report.shape.kind is ShapeKind.FUNNEL


def test_shapes_funnel_tunnel_hybrid(tmp_path: Path) -> None:
    cases = {
        ShapeKind.FUNNEL: ["no_bid"] * 6 + ["won"] * 4,
        ShapeKind.TUNNEL: ["won"] * 9 + ["lost"],
        ShapeKind.HYBRID: ["hybrid_won"] * 3 + ["won"] * 7,
    }
    for n, (kind, kinds) in enumerate(cases.items()):
        engine = open_database(f"sqlite:///{tmp_path}/shape{n}.db")
        with Session(engine) as session:
            write_history(session, specs_of_kinds(kinds))
            report = funnel_report(session, RULES, parse_period("2025"), now=NOW)
        assert report.shape.kind is kind, kinds
    # 6 of 10 eliminated at qualification, nothing later: all elimination is early
    engine = open_database(f"sqlite:///{tmp_path}/shape0.db")
    with Session(engine) as session:
        report = funnel_report(session, RULES, parse_period("2025"), now=NOW)
    assert report.shape.survival == pytest.approx(0.4)
    assert report.shape.early_elimination_share == pytest.approx(1.0)


def test_an_empty_period_has_unknown_shape_and_no_ratios(session: Session) -> None:
    build_history(session)
    report = funnel_report(session, RULES, parse_period("2024-Q1"), now=NOW)
    assert report.cohort_size == 0
    assert report.shape.kind is ShapeKind.UNKNOWN
    assert all(f.conversion is None and f.median_weeks is None for f in report.stages)
