"""The monthly business review in money: the BE/NL split, revenue against targets, slipped
deals, the pipeline against last month, and the churn of the installed base with reasons.

Definitions (the tests recompute each from the factory's parameters):
- **country** of a bid or contract: its account's `country`; BE and NL by name, every other
  (or unknown) country as "other";
- **order intake** of a month: the whole value (monthly × term + one-off, EUR) of the
  contracts that started in it; **recurring revenue**: the monthly recurring revenue every
  contract books in the month; **one-off revenue**: the one-off charges of the contracts
  that started in it (kept apart: one-off charges are not recurring revenue);
- **pipeline** at a moment: the bids open then (not closed, not yet won), with their
  estimated revenue in EUR; the change is this month's end against last month's end;
- **slipped deal**: a bid still open (not yet won) at the month's end whose expected
  decision date has passed by then;
- **churn**: contracts whose term ended in the month (by the review's date) without a
  contract renewing them,
  with the reason from their renewal bid (`funnel.contracts.churned`). The installed base
  here is every customer with a contract, whatever its tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from orchestrator.decisions.funnel_rules import FunnelConfig, Period, add_months
from orchestrator.funnel.contracts import Churn, ContractFacts, churned
from orchestrator.funnel.measure import BidTrail
from orchestrator.lifecycle.table import ENDS, State

COUNTRIES = ("BE", "NL", "other")
NOT_PIPELINE = {*ENDS, State.CONTRACT_PREPARATION}
WON = (State.CONTRACT_PREPARATION, State.CONTRACTED)


def country_of(code: str | None) -> str:
    return code if code in ("BE", "NL") else "other"


@dataclass(frozen=True)
class CountryMonth:
    country: str
    new_bids: int
    won: int
    lost: int
    pipeline_eur: float
    order_intake_eur: float
    order_intake_target_eur: float | None
    recurring_revenue_eur: float
    recurring_revenue_target_eur: float | None
    one_off_revenue_eur: float = 0.0


@dataclass(frozen=True)
class SlippedDeal:
    ref: str
    account: str
    country: str
    state: str
    decision_date: str
    days_late: int
    revenue_eur: float


@dataclass(frozen=True)
class PipelineChange:
    label: str
    at: datetime
    bids: int
    value_eur: float


@dataclass(frozen=True)
class MoneyReview:
    countries: tuple[CountryMonth, ...]
    slipped: tuple[SlippedDeal, ...]
    pipeline: tuple[PipelineChange, PipelineChange]
    churn: tuple[Churn, ...]

    @property
    def pipeline_delta_eur(self) -> float:
        return round(self.pipeline[1].value_eur - self.pipeline[0].value_eur, 2)

    @property
    def pipeline_delta_bids(self) -> int:
        return self.pipeline[1].bids - self.pipeline[0].bids


def _in_pipeline(trail: BidTrail, moment: datetime) -> bool:
    state = trail.state_at(moment)
    return state is not None and state not in NOT_PIPELINE


def pipeline_at(trails: Sequence[BidTrail], moment: datetime, label: str) -> PipelineChange:
    open_then = [t for t in trails if _in_pipeline(t, moment)]
    return PipelineChange(
        label, moment, len(open_then), round(sum(t.total_revenue_eur for t in open_then), 2)
    )


def _closed_in(trail: BidTrail, month: Period, as_of: datetime) -> str | None:
    """'won' or 'lost' when the bid's verdict came in the month (before `as_of`)."""
    for move in trail.moves:
        if not month.start_at <= move.at < as_of:
            continue
        if move.to_state == State.CONTRACT_PREPARATION:
            return "won"
        if move.to_state == State.LOST:
            return "lost"
    return None


def money_review(
    session: Session,
    trails: Sequence[BidTrail],
    contracts: Sequence[ContractFacts],
    config: FunnelConfig,
    month: Period,
    as_of: datetime,
) -> MoneyReview:
    """Every money figure of the review of `month`, as of `as_of` (its end, or now)."""
    rows = []
    targets = config.revenue_targets
    for country in COUNTRIES:
        mine = [t for t in trails if country_of(t.country) == country]
        outcomes = [_closed_in(t, month, as_of) for t in mine]
        theirs = [c for c in contracts if country_of(c.country) == country]
        intake = sum(c.value_eur for c in theirs if month.start <= c.start_date < month.end)
        recurring = sum(c.recurring_in(month.label) for c in theirs)
        one_off = sum(c.one_off_in(month.label) for c in theirs)
        rows.append(
            CountryMonth(
                country=country,
                new_bids=sum(1 for t in mine if month.start_at <= t.entered_at < as_of),
                won=outcomes.count("won"),
                lost=outcomes.count("lost"),
                pipeline_eur=pipeline_at(mine, as_of, "end").value_eur,
                order_intake_eur=round(intake, 2),
                order_intake_target_eur=targets.get("order_intake_eur", {}).get(country),
                recurring_revenue_eur=round(recurring, 2),
                recurring_revenue_target_eur=targets.get("recurring_revenue_eur", {}).get(country),
                one_off_revenue_eur=round(one_off, 2),
            )
        )
    slipped = []
    for trail in trails:
        if trail.decision_date is None or not _in_pipeline(trail, as_of):
            continue
        late = (as_of.date() - trail.decision_date).days
        if late > 0:
            slipped.append(
                SlippedDeal(
                    ref=f"OPP-{trail.opportunity_id:04d}",
                    account=trail.account_name,
                    country=country_of(trail.country),
                    state=str(trail.state_at(as_of)),
                    decision_date=trail.decision_date.isoformat(),
                    days_late=late,
                    revenue_eur=round(trail.total_revenue_eur, 2),
                )
            )
    slipped.sort(key=lambda s: (-s.days_late, s.ref))
    previous = add_months(month, -1)
    return MoneyReview(
        countries=tuple(rows),
        slipped=tuple(slipped),
        pipeline=(
            pipeline_at(trails, min(previous.end_at, as_of), previous.label),
            pipeline_at(trails, as_of, month.label),
        ),
        churn=tuple(churned(session, list(contracts), month, as_of.date())),
    )
