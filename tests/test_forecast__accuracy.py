"""Stored forecasts compared with what happened: forecast vs actual, absolute % error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.funnel.forecast import Accuracy, forecast_accuracy
from orchestrator.lifecycle.table import State
from orchestrator.store.db import open_database
from orchestrator.store.models import ForecastSnapshot
from tests.factories_history import BidSpec, custom_spec, write_history

RULES = Path(__file__).resolve().parents[1] / "rules"
S = State


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = open_database(f"sqlite:///{tmp_path}/t.db")
    with Session(engine) as session:
        yield session


def _won(index: int, won_on: datetime, revenue: tuple[float, float, float]) -> BidSpec:
    return custom_spec(
        index,
        [(S.CUSTOMER_DECISION, datetime(2026, 6, 1, tzinfo=UTC)),
         (S.CONTRACT_PREPARATION, won_on),
         (S.CONTRACTED, won_on.replace(day=28))],
        revenue=revenue,
    )  # fmt: skip


def test_past_months_compare_the_forecast_made_beforehand_with_won_revenue(
    session: Session,
) -> None:
    write_history(
        session,
        [
            _won(0, datetime(2026, 9, 10, tzinfo=UTC), (600, 1200, 0)),  # Oct: 1200/12 = 100
            _won(1, datetime(2026, 10, 3, tzinfo=UTC), (500, 0, 0)),  # Oct: 500
            custom_spec(2, [(S.CUSTOMER_DECISION, datetime(2026, 6, 1, tzinfo=UTC)),
                            (S.LOST, datetime(2026, 10, 9, tzinfo=UTC))],
                        revenue=(7000, 0, 0), category="price"),
        ],
    )  # fmt: skip
    snapshots = [
        ("2026-10", datetime(2026, 9, 20, tzinfo=UTC), 900.0),  # taken before October
        ("2026-10", datetime(2026, 10, 1, 8, tzinfo=UTC), 800.0),  # on its first day: wins
        ("2026-10", datetime(2026, 10, 15, tzinfo=UTC), 620.0),  # during October: ignored
        ("2026-09", datetime(2026, 8, 31, tzinfo=UTC), 0.0),  # nothing forecast nor won
        ("2026-08", datetime(2026, 7, 31, tzinfo=UTC), 250.0),  # forecast, nothing won
        ("2026-11", datetime(2026, 10, 31, tzinfo=UTC), 700.0),  # not ended yet: ignored
    ]
    for period, taken_at, expected in snapshots:
        session.add(ForecastSnapshot(period=period, taken_at=taken_at, expected_revenue=expected))
    session.commit()
    rows = forecast_accuracy(session, RULES, now=datetime(2026, 11, 20, tzinfo=UTC))
    assert [(r.period, r.forecast, r.actual) for r in rows] == [
        ("2026-08", 250.0, 0.0),
        ("2026-09", 0.0, 600.0),
        ("2026-10", 800.0, pytest.approx(600.0)),
    ]
    assert rows[2].taken_at == datetime(2026, 10, 1, 8)
    assert rows[2].abs_pct_error == pytest.approx(abs(800 - 600) / 600 * 100)
    assert rows[1].abs_pct_error == pytest.approx(100.0)
    assert rows[0].abs_pct_error is None  # nothing won: the % error is undefined
    assert rows[2].as_dict()["abs_pct_error"] == pytest.approx(33.333, abs=1e-3)


def test_zero_forecast_of_zero_is_exact() -> None:
    assert Accuracy("2026-01", datetime(2026, 1, 1), 0.0, 0.0).abs_pct_error == 0.0
    assert Accuracy("2026-01", datetime(2026, 1, 1), 110.0, 100.0).abs_pct_error == pytest.approx(
        10
    )
