"""Sales funnel management: targets per stage as data, measured against the stage history.

The study's levers are measurements (§2.2.2.1): a target number of bids per phase, success
ratios between phases, timing per phase, and target versus actual. `rules/funnel.yaml`
holds the targets; the audit trail (`AuditEvent.from_state/to_state/at`) is the history
every actual figure is computed from, so past quarters can be measured again at any time.

Definitions (the docs and tests rely on them):
- the funnel stages are the eight lifecycle steps followed by `contracted`; a bid in
  `strategy_rework` counts as in `qualification`;
- a bid *reached* a stage when its trail ever entered or left that stage;
- the *cohort* of a period is the bids whose first state move falls in the period;
- *count* of an open stage: bids in it at the end of the period (or now, if earlier);
  count of `contracted`: contracts signed during the period;
- *conversion* of a stage: among cohort bids that reached it and are no longer in it, the
  share that reached a later stage (a bid still in the stage has not been decided yet);
- *weeks in stage*: per cohort bid, all time spent in the stage, once it has left it;
  the median and the nearest-rank 90th percentile are reported;
- *% of target*: actual / target, rounded half up to a whole percent (7 of 11 → 64%);
  targets are per quarter, the `contracted` one is scaled to other period lengths.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.decisions.funnel_rules import (
    FUNNEL_STAGES,
    FunnelConfig,
    Period,
    load_funnel_config,
    reason_categories,
    sleeping_reminder_days,
)
from orchestrator.lifecycle.table import State
from orchestrator.store.models import Account, AuditEvent, Opportunity, Person

__all__ = [
    "FUNNEL_STAGES",
    "BidTrail",
    "FunnelConfig",
    "FunnelReport",
    "FunnelShape",
    "Move",
    "ShapeKind",
    "StageFigures",
    "funnel_report",
    "load_funnel_config",
    "load_trails",
    "measure_funnel",
    "nearest_rank",
    "percent_of_target",
    "reason_categories",
    "sleeping_reminder_days",
]

_ALIASES: dict[str, str] = {State.STRATEGY_REWORK: State.QUALIFICATION}
_INDEX: dict[str, int] = {stage.value: i for i, stage in enumerate(FUNNEL_STAGES)}


def as_utc_naive(moment: datetime) -> datetime:
    """Timestamps compared as naive UTC: SQLite hands them back without a zone."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class Move:
    """One state move of a bid, from its audit trail."""

    at: datetime
    from_state: str | None
    to_state: str


@dataclass(frozen=True)
class BidTrail:
    """A bid with the facts the funnel, forecast and win/loss figures need, and its moves."""

    opportunity_id: int
    account_id: int
    account_name: str
    tier: str
    owner_email: str | None
    state: str
    services: tuple[str, ...]
    incumbent: bool
    revenue_short_term: float
    revenue_medium_term: float
    revenue_long_term: float
    decision_date: Any
    result_category: str | None
    result_reason: str | None
    received_at: datetime
    moves: tuple[Move, ...]
    currency: str = "EUR"
    fx_rate: float | None = None
    """EUR per unit of `currency`, recorded when the bid was created."""
    country: str | None = None
    """The account's country (the monthly review's BE/NL split)."""
    source: str = "rfp"
    contract_start: date | None = None
    """The agreed start of the contract (`bid order details --contract-start`), if any."""

    @property
    def total_revenue(self) -> float:
        return self.revenue_short_term + self.revenue_medium_term + self.revenue_long_term

    @property
    def total_revenue_eur(self) -> float:
        """The estimates in EUR at the bid's recorded rate (EUR bids: as they are)."""
        return self.total_revenue * (self.fx_rate or 1.0)

    @property
    def entered_at(self) -> datetime:
        """When the bid entered the pipeline: its first move, else its receipt."""
        return self.moves[0].at if self.moves else self.received_at

    @property
    def stage(self) -> str:
        """The current funnel stage (strategy rework counts as qualification)."""
        return _ALIASES.get(self.state, self.state)

    def reached(self) -> frozenset[str]:
        """Every state this bid was ever in."""
        states = {self.state}
        for move in self.moves:
            states.add(move.to_state)
            if move.from_state is not None:
                states.add(move.from_state)
        return frozenset(_ALIASES.get(s, s) for s in states)

    def entered(self, state: str) -> datetime | None:
        """When the bid first entered `state`, if it did."""
        return next((m.at for m in self.moves if m.to_state == state), None)

    def state_at(self, moment: datetime) -> str | None:
        """The funnel stage at `moment`; None when the bid had no move yet."""
        current: str | None = None
        for move in self.moves:
            if move.at > moment:
                break
            current = move.to_state
        if current is None and not self.moves and self.received_at <= moment:
            current = self.state
        return None if current is None else _ALIASES.get(current, current)

    def skipped_a_stage(self) -> bool:
        """True when a move jumped over a funnel stage (a hybrid sales process)."""
        for move in self.moves:
            before = -1 if move.from_state is None else _INDEX.get(move.from_state)
            after = _INDEX.get(move.to_state)
            if before is not None and after is not None and after > before + 1:
                return True
        return False

    def weeks_in(self, state: str) -> float | None:
        """Total weeks spent in `state`, once the bid has left it for good; else None."""
        if self.stage == state or state not in self.reached():
            return None
        total = 0.0
        since: datetime | None = None
        for move in self.moves:
            if since is not None and _ALIASES.get(move.from_state or "", move.from_state) == state:
                total += (move.at - since).total_seconds()
                since = None
            if _ALIASES.get(move.to_state, move.to_state) == state and since is None:
                since = move.at
        return total / (7 * 86400)


def load_trails(session: Session) -> list[BidTrail]:
    """Every bid with its account, owner and ordered state moves (one query per table)."""
    accounts = {a.id: a for a in session.exec(select(Account)).all()}
    emails = {p.id: p.email for p in session.exec(select(Person)).all()}
    moves: dict[int, list[Move]] = {}
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.to_state).is_not(None))
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    for event in events:
        if event.to_state is None or event.to_state == event.from_state:
            continue
        moves.setdefault(event.opportunity_id, []).append(
            Move(as_utc_naive(event.at), event.from_state, event.to_state)
        )
    trails = []
    for opp in session.exec(select(Opportunity).order_by(col(Opportunity.id))).all():
        account = accounts[opp.account_id]
        trails.append(
            BidTrail(
                opportunity_id=opp.id or 0,
                account_id=opp.account_id,
                account_name=account.name,
                tier=account.tier,
                owner_email=emails.get(opp.owner_id) if opp.owner_id is not None else None,
                state=opp.state,
                services=tuple(opp.services),
                incumbent=opp.incumbent,
                revenue_short_term=opp.revenue_short_term,
                revenue_medium_term=opp.revenue_medium_term,
                revenue_long_term=opp.revenue_long_term,
                decision_date=opp.decision_date,
                result_category=opp.result_category,
                result_reason=opp.result_reason,
                received_at=as_utc_naive(opp.received_at),
                moves=tuple(moves.get(opp.id or 0, [])),
                currency=opp.currency,
                fx_rate=opp.fx_rate,
                country=account.country,
                source=opp.source,
                contract_start=opp.contract_start,
            )
        )
    return trails


def percent_of_target(actual: int, target: int | None) -> int | None:
    """Actual as a whole percent of target, rounded half up (7 of 11 → 64); None without one."""
    if not target:
        return None
    return (200 * actual + target) // (2 * target)


def nearest_rank(values: Sequence[float], quantile: float) -> float:
    """The nearest-rank percentile: the smallest value with `quantile` of values at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


class ShapeKind(StrEnum):
    FUNNEL = "funnel"
    TUNNEL = "tunnel"
    HYBRID = "hybrid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class FunnelShape:
    """The shape and the figures that decided it (thresholds in funnel.yaml `shape`)."""

    kind: ShapeKind
    skipped_share: float | None
    survival: float | None
    early_elimination_share: float | None


@dataclass(frozen=True)
class StageFigures:
    stage: State
    count: int
    target: int | None
    percent_of_target: int | None
    expected_conversion: float | None
    conversion: float | None
    decided: int
    expected_weeks: float
    median_weeks: float | None
    p90_weeks: float | None


@dataclass(frozen=True)
class FunnelReport:
    period: Period
    owner: str | None
    as_of: datetime
    cohort_size: int
    stages: tuple[StageFigures, ...]
    shape: FunnelShape

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json` and the report's CSV."""
        return {
            "period": self.period.label,
            "owner": self.owner,
            "as_of": self.as_of.isoformat(),
            "cohort_size": self.cohort_size,
            "shape": {
                "kind": self.shape.kind.value,
                "skipped_share": self.shape.skipped_share,
                "survival": self.shape.survival,
                "early_elimination_share": self.shape.early_elimination_share,
            },
            "stages": [
                {
                    "stage": s.stage.value,
                    "count": s.count,
                    "target": s.target,
                    "percent_of_target": s.percent_of_target,
                    "expected_conversion": s.expected_conversion,
                    "conversion": s.conversion,
                    "decided": s.decided,
                    "expected_weeks": s.expected_weeks,
                    "median_weeks": s.median_weeks,
                    "p90_weeks": s.p90_weeks,
                }
                for s in self.stages
            ],
        }


def _product(values: Iterable[float]) -> float:
    result = 1.0
    for value in values:
        result *= value
    return result


def _shape(
    cohort: list[BidTrail], figures: list[StageFigures], config: FunnelConfig
) -> FunnelShape:
    known = [f for f in figures if f.conversion is not None]
    if not cohort or not known:
        return FunnelShape(ShapeKind.UNKNOWN, None, None, None)
    skipped = sum(1 for t in cohort if t.skipped_a_stage()) / len(cohort)
    survival = _product(f.conversion for f in known if f.conversion is not None)
    end = _INDEX[config.shape.early_stages_end]
    early = _product(
        f.conversion for f in known if f.conversion is not None and _INDEX[f.stage] < end
    )
    early_share = (1 - early) / (1 - survival) if survival < 1 else None
    if skipped >= config.shape.hybrid_min_skipped_share:
        kind = ShapeKind.HYBRID
    elif survival >= config.shape.tunnel_min_survival:
        kind = ShapeKind.TUNNEL
    else:
        kind = ShapeKind.FUNNEL
    return FunnelShape(kind, skipped, survival, early_share)


def measure_funnel(
    trails: Sequence[BidTrail],
    config: FunnelConfig,
    period: Period,
    *,
    now: datetime,
    owner: str | None = None,
) -> FunnelReport:
    """Target versus actual per stage for one period (and one account manager, if given)."""
    as_of = min(as_utc_naive(now), period.end_at)
    mine = [t for t in trails if owner is None or t.owner_email == owner]
    cohort = [t for t in mine if period.start_at <= t.entered_at < period.end_at]
    targets = config.targets_for(owner, period.months)
    figures: list[StageFigures] = []
    for i, stage in enumerate(FUNNEL_STAGES):
        rule = config.stage(stage)
        if stage is State.CONTRACTED:
            count = sum(
                1
                for t in mine
                if (signed := t.entered(stage)) is not None and period.start_at <= signed < as_of
            )
        else:
            count = sum(1 for t in mine if t.state_at(as_of) == stage)
        reached = [t for t in cohort if stage in t.reached()]
        conversion: float | None = None
        decided = 0
        if stage is not State.CONTRACTED:
            left = [t for t in reached if t.stage != stage]
            later = {s.value for s in FUNNEL_STAGES[i + 1 :]}
            decided = len(left)
            if left:
                conversion = sum(1 for t in left if t.reached() & later) / len(left)
        weeks = [w for t in reached if (w := t.weeks_in(stage)) is not None]
        target = targets.get(stage)
        figures.append(
            StageFigures(
                stage=stage,
                count=count,
                target=target,
                percent_of_target=percent_of_target(count, target),
                expected_conversion=rule.conversion,
                conversion=conversion,
                decided=decided,
                expected_weeks=rule.weeks,
                median_weeks=statistics.median(weeks) if weeks else None,
                p90_weeks=nearest_rank(weeks, 0.9) if weeks else None,
            )
        )
    return FunnelReport(
        period=period,
        owner=owner,
        as_of=as_of,
        cohort_size=len(cohort),
        stages=tuple(figures),
        shape=_shape(cohort, figures, config),
    )


def funnel_report(
    session: Session,
    rules_dir: Path,
    period: Period,
    *,
    now: datetime,
    owner: str | None = None,
) -> FunnelReport:
    """Load the targets and the history, then measure the funnel (what `bid funnel` shows)."""
    return measure_funnel(
        load_trails(session), load_funnel_config(rules_dir), period, now=now, owner=owner
    )
