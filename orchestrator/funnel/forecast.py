"""The forecast: weighted pipeline and expected revenue per month, checked against results.

The study asks for forecasts that are structured, shared and *checked against results*
(§3.5.2). Choices, documented here and in rules/funnel.yaml:

- **Win probability per stage** is P(contracted | reached the stage), measured over closed
  bids (in an end state) that reached the stage, once there are at least
  `calibration.min_closed_bids` of them; until then the stage's `win_probability` default.
- **Weighted pipeline**: every open bid's total revenue (short + medium + long term) times
  the probability of its current stage (strategy rework counts as qualification).
- **When revenue lands**: from the bid's decision month, each revenue horizon is spread
  evenly over the months of `forecast.revenue_schedule` (by default short-term revenue lands
  in the decision month, medium-term over the next 12 months, long-term over the 24 after).
  The decision month is the month of the agreed contract start for a won bid that has one
  (`bid order details --contract-start`), the month the customer said yes for another won
  bid, else the bid's
  `decision_date` — moved to the current month when it has passed (the verdict is overdue).
  Open bids without a decision date are counted apart as *undated*.
- **Signed deals**: a contracted bid with a contract (`Contract`, made when it was signed)
  books the contract's priced monthly recurring revenue (EUR) in every month of its term
  from the month it starts, and its one-off charges in that month — not its estimates.
  Contracted bids from before contracts were recorded keep the revenue schedule.
- **Expected revenue** of a month = *committed* (contracted bids, certain) + *weighted*.
- **Accuracy**: `bid forecast --save` stores one `ForecastSnapshot` per month of the
  horizon. For a month that has ended, the forecast is the latest snapshot of that month
  taken on or before its first day; the actual is the revenue of the bids contracted by
  now that lands in the month under the same schedule; the error is |forecast − actual| /
  actual in percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from orchestrator.decisions.funnel_rules import (
    FUNNEL_STAGES,
    FunnelConfig,
    Period,
    add_months,
    load_funnel_config,
    month_of,
    parse_period,
)
from orchestrator.errors import NotPermitted
from orchestrator.funnel.contracts import ContractFacts, load_contracts
from orchestrator.funnel.measure import BidTrail, as_utc_naive, load_trails
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import ForecastSnapshot, Grant, Person

_DECIDED = (State.CONTRACT_PREPARATION, State.CONTRACTED)


@dataclass(frozen=True)
class StageProbability:
    stage: State
    probability: float
    source: str
    """`history` when calibrated from closed bids, `default` from funnel.yaml."""
    closed: int
    won: int


def win_probabilities(
    trails: Sequence[BidTrail], config: FunnelConfig
) -> dict[State, StageProbability]:
    """P(contracted | reached stage) per funnel stage: from history when there is enough."""
    closed = [t for t in trails if t.state in ENDS]
    result = {}
    for stage in FUNNEL_STAGES:
        passed = [t for t in closed if stage in t.reached()]
        won = sum(1 for t in passed if t.state == State.CONTRACTED)
        if len(passed) >= config.min_closed_bids:
            result[stage] = StageProbability(stage, won / len(passed), "history", len(passed), won)
        else:
            default = config.stage(stage).win_probability
            result[stage] = StageProbability(stage, default, "default", len(passed), won)
    return result


def decision_month(trail: BidTrail, current: Period) -> Period | None:
    """The month revenue is counted from (see the module docstring); None when undated."""
    if trail.contract_start is not None and trail.state in _DECIDED:
        return month_of(trail.contract_start)
    for state in _DECIDED:
        if (moment := trail.entered(state)) is not None:
            return month_of(moment.date())
    if trail.decision_date is None:
        return None
    month = month_of(trail.decision_date)
    overdue = trail.state not in ENDS and month.start < current.start
    return current if overdue else month


def revenue_by_month(trail: BidTrail, config: FunnelConfig, start: Period) -> dict[str, float]:
    """The bid's full revenue spread over months (label → amount) by the revenue schedule."""
    amounts = {
        "short_term": trail.revenue_short_term,
        "medium_term": trail.revenue_medium_term,
        "long_term": trail.revenue_long_term,
    }
    months: dict[str, float] = {}
    for horizon, rule in config.revenue_schedule.items():
        share = amounts[horizon] / rule.months
        for offset in range(rule.start_month, rule.start_month + rule.months):
            label = add_months(start, offset).label
            months[label] = months.get(label, 0.0) + share
    return months


@dataclass(frozen=True)
class MonthForecast:
    period: str
    committed: float
    weighted: float

    @property
    def expected(self) -> float:
        return self.committed + self.weighted


@dataclass(frozen=True)
class StagePipeline:
    stage: State
    bids: int
    revenue: float
    probability: float
    weighted: float


@dataclass(frozen=True)
class Forecast:
    taken_at: datetime
    months: tuple[MonthForecast, ...]
    pipeline: tuple[StagePipeline, ...]
    probabilities: tuple[StageProbability, ...]
    undated_bids: int
    undated_revenue: float

    def quarters(self) -> list[MonthForecast]:
        """The monthly figures summed per calendar quarter."""
        sums: dict[str, list[float]] = {}
        for month in self.months:
            label = f"{month.period[:4]}-Q{(int(month.period[5:7]) - 1) // 3 + 1}"
            pair = sums.setdefault(label, [0.0, 0.0])
            pair[0] += month.committed
            pair[1] += month.weighted
        return [MonthForecast(label, c, w) for label, (c, w) in sums.items()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "months": [_month_dict(m) for m in self.months],
            "quarters": [_month_dict(q) for q in self.quarters()],
            "pipeline": [
                {
                    "stage": p.stage.value,
                    "bids": p.bids,
                    "revenue": p.revenue,
                    "probability": p.probability,
                    "weighted": p.weighted,
                }
                for p in self.pipeline
            ],
            "probabilities": [
                {
                    "stage": p.stage.value,
                    "probability": p.probability,
                    "source": p.source,
                    "closed": p.closed,
                    "won": p.won,
                }
                for p in self.probabilities
            ],
            "undated_bids": self.undated_bids,
            "undated_revenue": self.undated_revenue,
        }


def _month_dict(month: MonthForecast) -> dict[str, Any]:
    return {
        "period": month.period,
        "committed": month.committed,
        "weighted": month.weighted,
        "expected": month.expected,
    }


def booked_by_month(
    trail: BidTrail,
    config: FunnelConfig,
    current: Period,
    contracts: Mapping[int, ContractFacts],
) -> dict[str, float] | None:
    """What a bid brings per month: a signed contract's booked revenue, else its estimates
    spread by the revenue schedule from its decision month; None when undated."""
    contract = contracts.get(trail.opportunity_id) if trail.state == State.CONTRACTED else None
    if contract is not None:
        return contract.booked_by_month()
    start = decision_month(trail, current)
    return None if start is None else revenue_by_month(trail, config, start)


def contracts_by_bid(session: Session) -> dict[int, ContractFacts]:
    return {c.opportunity_id: c for c in load_contracts(session)}


def build_forecast(
    trails: Sequence[BidTrail],
    config: FunnelConfig,
    *,
    now: datetime,
    contracts: Mapping[int, ContractFacts] | None = None,
) -> Forecast:
    """The forecast for the `forecast.horizon_months` months starting with the current one."""
    current = month_of(as_utc_naive(now).date())
    labels = [add_months(current, i).label for i in range(config.horizon_months)]
    committed = dict.fromkeys(labels, 0.0)
    weighted = dict.fromkeys(labels, 0.0)
    probabilities = win_probabilities(trails, config)
    pipeline: dict[State, list[float]] = {
        stage: [0, 0.0, 0.0] for stage in FUNNEL_STAGES if stage is not State.CONTRACTED
    }
    undated, undated_revenue = 0, 0.0
    for trail in trails:
        is_open = trail.state not in ENDS
        if not is_open and trail.state != State.CONTRACTED:
            continue
        probability = probabilities[State(trail.stage)].probability if is_open else 1.0
        if is_open:
            row = pipeline[State(trail.stage)]
            row[0] += 1
            row[1] += trail.total_revenue
            row[2] += probability * trail.total_revenue
        months = booked_by_month(trail, config, current, contracts or {})
        if months is None:
            undated += int(is_open)
            undated_revenue += trail.total_revenue if is_open else 0.0
            continue
        target = weighted if is_open else committed
        for label, amount in months.items():
            if label in target:
                target[label] += probability * amount
    return Forecast(
        taken_at=now,
        months=tuple(MonthForecast(m, committed[m], weighted[m]) for m in labels),
        pipeline=tuple(
            StagePipeline(stage, int(n), revenue, probabilities[stage].probability, w)
            for stage, (n, revenue, w) in pipeline.items()
        ),
        probabilities=tuple(probabilities.values()),
        undated_bids=undated,
        undated_revenue=undated_revenue,
    )


def forecast(session: Session, rules_dir: Path, *, now: datetime) -> Forecast:
    """The current forecast from the bid history and funnel.yaml (what `bid forecast` shows)."""
    return build_forecast(
        load_trails(session),
        load_funnel_config(rules_dir),
        now=now,
        contracts=contracts_by_bid(session),
    )


SAVE_FORECAST_GRANTS = frozenset({Grant.MANAGEMENT, Grant.ADMIN})


def check_may_save(session: Session, by: str) -> None:
    """Refuse a stored forecast by anyone but management or an admin (the process's own
    automation may): snapshots are what forecast accuracy is judged on later.

    The same rule as `bid.people.require_grant`, read here because the funnel imports
    nothing of `bid` (it measures bids and changes none)."""
    if "@" not in by:
        return
    person = session.exec(select(Person).where(Person.email == by.lower())).first()
    if person is None:
        raise NotPermitted(f"{by} is nobody known here; saving a forecast needs a person")
    if not SAVE_FORECAST_GRANTS & set(person.roles):
        raise NotPermitted(
            f"{person.email} may not save a forecast: it needs the management role or an "
            "admin (bid people grant EMAIL --role management)"
        )


def take_forecast(
    engine: Engine, rules_dir: Path, *, now: datetime, save: bool, by: str = "system"
) -> Forecast:
    """The current forecast; with `save`, stored as snapshots to check against results later
    (by management or an admin: `by`)."""
    if not save:
        with reading(engine) as session:
            return forecast(session, rules_dir, now=now)
    with reading(engine) as session:
        check_may_save(session, by)
        result = forecast(session, rules_dir, now=now)
    with transaction(engine) as session:  # short: the forecast is computed outside it
        check_may_save(session, by)
        save_forecast(session, result)
    return result


def save_forecast(session: Session, result: Forecast) -> list[ForecastSnapshot]:
    """Store one snapshot per forecast month, to be compared with the results later."""
    snapshots = [
        ForecastSnapshot(
            taken_at=result.taken_at,
            period=month.period,
            expected_revenue=month.expected,
            detail={"committed": month.committed, "weighted": month.weighted},
        )
        for month in result.months
    ]
    session.add_all(snapshots)
    return snapshots


def actual_revenue(
    trails: Sequence[BidTrail],
    config: FunnelConfig,
    period: Period,
    contracts: Mapping[int, ContractFacts] | None = None,
) -> float:
    """Revenue of the contracted bids that lands in `period`: booked by their contracts, or
    under the revenue schedule for bids signed before contracts were recorded."""
    total = 0.0
    for trail in trails:
        if trail.state != State.CONTRACTED:
            continue
        months = booked_by_month(trail, config, month_of(period.start), contracts or {})
        if months is None:
            continue
        for label, amount in months.items():
            if period.start <= parse_period(label).start < period.end:
                total += amount
    return total


@dataclass(frozen=True)
class Accuracy:
    """A past month's forecast against what happened."""

    period: str
    taken_at: datetime
    forecast: float
    actual: float

    @property
    def abs_pct_error(self) -> float | None:
        """|forecast − actual| / actual × 100; None when nothing was won (undefined)."""
        if self.actual == 0:
            return 0.0 if self.forecast == 0 else None
        return abs(self.forecast - self.actual) / self.actual * 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "taken_at": self.taken_at.isoformat(),
            "forecast": self.forecast,
            "actual": self.actual,
            "abs_pct_error": self.abs_pct_error,
        }


def forecast_accuracy(session: Session, rules_dir: Path, *, now: datetime) -> list[Accuracy]:
    """Every ended month with a snapshot taken by its first day, oldest first."""
    config = load_funnel_config(rules_dir)
    trails = load_trails(session)
    contracts = contracts_by_bid(session)
    current = month_of(as_utc_naive(now).date())
    chosen: dict[str, ForecastSnapshot] = {}
    for snapshot in session.exec(select(ForecastSnapshot).order_by(col(ForecastSnapshot.taken_at))):
        period = parse_period(snapshot.period)
        if period.end <= current.start and as_utc_naive(snapshot.taken_at).date() <= period.start:
            chosen[snapshot.period] = snapshot
    return [
        Accuracy(
            label,
            as_utc_naive(snapshot.taken_at),
            snapshot.expected_revenue,
            actual_revenue(trails, config, parse_period(label), contracts),
        )
        for label, snapshot in sorted(chosen.items())
    ]
