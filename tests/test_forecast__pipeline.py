"""The weighted pipeline and expected revenue per month, against hand-computed figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from orchestrator.funnel.forecast import forecast, save_forecast
from orchestrator.funnel.measure import FUNNEL_STAGES, load_funnel_config
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import open_database
from orchestrator.store.models import ForecastSnapshot
from tests.factories_history import build_history, custom_spec, reached, write_history

RULES = Path(__file__).resolve().parents[1] / "rules"
S = State
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    with Session(engine) as session:
        yield session


def _small_pipeline(session: Session) -> None:
    t = datetime(2026, 8, 1, tzinfo=UTC)
    write_history(
        session,
        [
            # A: in submission (default P 0.30), decides in December 2026
            custom_spec(0, [(S.SUBMISSION, t)], revenue=(1200, 2400, 0),
                        decision_date=date(2026, 12, 15)),
            # B: in qualification (0.10), decision date passed → counted in November
            custom_spec(1, [(S.QUALIFICATION, t)], revenue=(1000, 0, 0),
                        decision_date=date(2026, 9, 1)),
            # C: contracted, won on 5 October 2026: committed revenue
            custom_spec(2, [(S.CUSTOMER_DECISION, t),
                            (S.CONTRACT_PREPARATION, datetime(2026, 10, 5, tzinfo=UTC)),
                            (S.CONTRACTED, datetime(2026, 10, 20, tzinfo=UTC))],
                        revenue=(500, 1200, 2400), decision_date=date(2026, 10, 1)),
            # D: in kick-off (0.20) without a decision date: undated
            custom_spec(3, [(S.KICK_OFF, t)], revenue=(5000, 0, 0)),
            # E: lost: no revenue anywhere
            custom_spec(4, [(S.CUSTOMER_DECISION, t), (S.LOST, t)], revenue=(9000, 0, 0),
                        decision_date=date(2026, 12, 1), category="price"),
        ],
    )  # fmt: skip


def test_expected_revenue_per_month_and_quarter(session: Session) -> None:
    _small_pipeline(session)
    result = forecast(session, RULES, now=NOW)
    months = {m.period: (m.committed, m.weighted) for m in result.months}
    assert list(months) == [
        "2026-11", "2026-12", *(f"2027-{m:02d}" for m in range(1, 11))
    ]  # fmt: skip
    # C's medium term (1200) spreads over Nov 2026..Oct 2027 at 100; its long term starts
    # in month 13 (Nov 2027), beyond the horizon; its short term landed in October.
    assert months["2026-11"] == pytest.approx((100, 0.10 * 1000))
    assert months["2026-12"] == pytest.approx((100, 0.30 * 1200))
    for m in range(1, 11):  # A's medium term: 0.30 × 2400 / 12 from January 2027
        assert months[f"2027-{m:02d}"] == pytest.approx((100, 60))
    quarters = {q.period: q.expected for q in result.quarters()}
    assert quarters == pytest.approx(
        {"2026-Q4": 200 + 460, "2027-Q1": 480, "2027-Q2": 480, "2027-Q3": 480, "2027-Q4": 160}
    )
    assert (result.undated_bids, result.undated_revenue) == (1, 5000)
    pipeline = {p.stage: (p.bids, p.revenue, p.weighted) for p in result.pipeline}
    assert pipeline[S.SUBMISSION] == pytest.approx((1, 3600, 0.30 * 3600))
    assert pipeline[S.QUALIFICATION] == pytest.approx((1, 1000, 100))
    assert pipeline[S.KICK_OFF] == pytest.approx((1, 5000, 1000))
    assert pipeline[S.CUSTOMER_DECISION] == (0, 0, 0)
    assert all(p.source == "default" for p in result.probabilities)


def test_save_stores_one_snapshot_per_month(session: Session) -> None:
    _small_pipeline(session)
    result = forecast(session, RULES, now=NOW)
    save_forecast(session, result)
    session.commit()
    rows = session.exec(select(ForecastSnapshot).order_by(ForecastSnapshot.period)).all()
    assert [r.period for r in rows] == [m.period for m in result.months]
    assert [r.expected_revenue for r in rows] == pytest.approx([m.expected for m in result.months])
    assert rows[1].detail == pytest.approx({"committed": 100, "weighted": 360})
    assert {r.taken_at.replace(tzinfo=UTC) for r in rows} == {NOW}


def test_probabilities_are_calibrated_from_enough_closed_history(session: Session) -> None:
    specs = build_history(session)
    config = load_funnel_config(RULES)
    result = forecast(session, RULES, now=datetime(2026, 11, 15, 12, tzinfo=UTC))
    by_stage = {p.stage: p for p in result.probabilities}
    closed = [s for s in specs if s.state in ENDS]
    for stage in FUNNEL_STAGES:
        passed = [s for s in closed if stage in reached(s)]
        won = [s for s in passed if s.state == S.CONTRACTED]
        p = by_stage[stage]
        assert (p.closed, p.won) == (len(passed), len(won))
        if len(passed) >= config.min_closed_bids:
            assert p.source == "history"
            assert p.probability == pytest.approx(len(won) / len(passed))
        else:
            assert (p.source, p.probability) == ("default", config.stage(stage).win_probability)
    assert by_stage[S.CUSTOMER_DECISION].source == "history"
    # the weighted pipeline uses the calibrated figure for every open bid in the stage
    open_in_decision = [s for s in specs if s.state == S.CUSTOMER_DECISION]
    row = next(p for p in result.pipeline if p.stage == S.CUSTOMER_DECISION)
    total = sum(s.revenue_short_term + s.revenue_medium_term + s.revenue_long_term
                for s in open_in_decision)  # fmt: skip
    assert row.bids == len(open_in_decision) > 0
    assert row.weighted == pytest.approx(total * by_stage[S.CUSTOMER_DECISION].probability)


def test_too_little_history_keeps_the_defaults(session: Session) -> None:
    build_history(session, n=29)  # fewer than calibration.min_closed_bids (30) in all
    result = forecast(session, RULES, now=datetime(2026, 11, 15, 12, tzinfo=UTC))
    config = load_funnel_config(RULES)
    assert all(p.source == "default" for p in result.probabilities)
    assert [p.probability for p in result.probabilities] == [
        config.stage(stage).win_probability for stage in FUNNEL_STAGES
    ]
