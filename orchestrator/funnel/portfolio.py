"""The customer portfolio: every account placed by service level against (potential) revenue.

Definitions (rules/portfolio.yaml holds the numbers; tests recompute each one):
- `revenue_eur`: a year of recurring revenue of the account's active contracts (start ≤
  today ≤ end): 12 × their monthly recurring revenue in EUR;
- `pipeline_eur`: the first year's estimated revenue (short + medium term) of its open bids
  (not closed, not yet won), in EUR at each bid's recorded rate;
- `potential_eur`: the larger of its owner's estimate and revenue + pipeline;
- `won_12m` / `lost_12m`: its bids signed / lost or not bid in the last 365 days;
- `service_level`: its own, else its tier's default; `quadrant`: the tier the matrix
  (service level × potential) says it behaves like;
- `suggestion`: the first tier rule (`moves`) that applies to it, if any.

Reads only; aggregates in SQL so 5,000 accounts and 20,000 bids take one query each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from orchestrator.decisions.portfolio_rules import (
    PortfolioRules,
    ProposedMove,
    load_portfolio_rules,
)
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.models import Account, AuditEvent, Contract, Opportunity, Person

NOT_PIPELINE = [s.value for s in ENDS] + [State.CONTRACT_PREPARATION.value]
"""States whose bids are no longer pipeline: closed, or won and being signed."""
LOST = (State.LOST.value, State.NO_BID.value)


@dataclass(frozen=True)
class AccountPosition:
    account_id: int
    name: str
    tier: str
    parent: str | None
    country: str | None
    owner: str | None
    service_level: str
    revenue_eur: float
    pipeline_eur: float
    potential_eur: float
    won_12m: int
    lost_12m: int
    open_bids: int
    active_contracts: int
    quadrant: str
    suggestion: ProposedMove | None

    @property
    def measures(self) -> dict[str, float]:
        return {
            "revenue_eur": self.revenue_eur,
            "potential_eur": self.potential_eur,
            "pipeline_eur": self.pipeline_eur,
            "won_12m": float(self.won_12m),
            "lost_12m": float(self.lost_12m),
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["suggestion"] = (
            None
            if self.suggestion is None
            else {
                "rule": self.suggestion.rule_id,
                "to_tier": self.suggestion.to_tier,
                "reason": self.suggestion.reason,
            }
        )
        return data


@dataclass(frozen=True)
class TierSummary:
    tier: str
    accounts: int
    revenue_eur: float
    potential_eur: float
    pipeline_eur: float
    placed_elsewhere: int
    """Accounts of this tier that the matrix places in another quadrant."""


@dataclass(frozen=True)
class Portfolio:
    as_of: date
    rules_file: str
    positions: tuple[AccountPosition, ...]
    tiers: tuple[TierSummary, ...]

    @property
    def suggestions(self) -> list[ProposedMove]:
        return [p.suggestion for p in self.positions if p.suggestion is not None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rules": self.rules_file,
            "tiers": [asdict(t) for t in self.tiers],
            "accounts": [p.as_dict() for p in self.positions],
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def measure_accounts(session: Session, today: date) -> dict[int, dict[str, float]]:
    """Per account id: revenue, pipeline, contracts, open bids, won and lost in 12 months."""
    figures: dict[int, dict[str, float]] = {}

    def slot(account_id: int) -> dict[str, float]:
        return figures.setdefault(
            account_id,
            dict.fromkeys(
                ("revenue_eur", "pipeline_eur", "contracts", "open_bids", "won_12m", "lost_12m"),
                0.0,
            ),
        )

    for account_id, monthly, count in session.exec(
        select(
            Contract.account_id,
            func.sum(Contract.monthly_recurring_eur),
            func.count(col(Contract.id)),
        )
        .where(col(Contract.start_date) <= today, col(Contract.end_date) >= today)
        .group_by(col(Contract.account_id))
    ).all():
        row = slot(account_id)
        row["revenue_eur"], row["contracts"] = round(12 * float(monthly or 0), 2), float(count)
    first_year = (
        col(Opportunity.revenue_short_term) + col(Opportunity.revenue_medium_term)
    ) * func.coalesce(col(Opportunity.fx_rate), 1.0)
    for account_id, pipeline, count in session.exec(
        select(Opportunity.account_id, func.sum(first_year), func.count(col(Opportunity.id)))
        .where(col(Opportunity.state).not_in(NOT_PIPELINE))
        .group_by(col(Opportunity.account_id))
    ).all():
        row = slot(account_id)
        row["pipeline_eur"], row["open_bids"] = round(float(pipeline or 0), 2), float(count)
    since = _day_start(today - timedelta(days=365))
    for account_id, state, count in session.exec(
        select(
            Opportunity.account_id,
            AuditEvent.to_state,
            func.count(func.distinct(AuditEvent.opportunity_id)),
        )
        .where(AuditEvent.opportunity_id == Opportunity.id)
        .where(col(AuditEvent.to_state).in_([State.CONTRACTED.value, *LOST]))
        .where(col(AuditEvent.from_state) != col(AuditEvent.to_state))
        .where(col(AuditEvent.at) >= since)
        .group_by(col(Opportunity.account_id), col(AuditEvent.to_state))
    ).all():
        key = "won_12m" if state == State.CONTRACTED else "lost_12m"
        slot(account_id)[key] += float(count)
    return figures


def build_portfolio(session: Session, rules: PortfolioRules, today: date) -> Portfolio:
    """Every account's place in the portfolio today, and the moves the rules suggest."""
    figures = measure_accounts(session, today)
    emails = dict(session.exec(select(Person.id, Person.email)).all())
    rows = session.execute(
        sa_select(
            col(Account.id),
            col(Account.name),
            col(Account.tier),
            col(Account.parent_id),
            col(Account.country),
            col(Account.owner_id),
            col(Account.service_level),
            col(Account.potential_revenue_eur),
        ).order_by(col(Account.name))
    ).all()
    names = {row[0]: row[1] for row in rows}
    empty = dict.fromkeys(
        ("revenue_eur", "pipeline_eur", "contracts", "open_bids", "won_12m", "lost_12m"), 0.0
    )
    positions = []
    for account_id, name, tier, parent_id, country, owner_id, level, estimate in rows:
        f = figures.get(account_id, empty)
        potential = max(float(estimate or 0.0), f["revenue_eur"] + f["pipeline_eur"])
        service_level = rules.service_level_of(tier, level)
        measures = {
            "revenue_eur": f["revenue_eur"],
            "potential_eur": round(potential, 2),
            "pipeline_eur": f["pipeline_eur"],
            "won_12m": f["won_12m"],
            "lost_12m": f["lost_12m"],
        }
        move = rules.suggest(tier, measures)
        positions.append(
            AccountPosition(
                account_id=account_id,
                name=name,
                tier=tier,
                parent=names.get(parent_id) if parent_id is not None else None,
                country=country,
                owner=emails.get(owner_id) if owner_id is not None else None,
                service_level=service_level,
                revenue_eur=f["revenue_eur"],
                pipeline_eur=f["pipeline_eur"],
                potential_eur=round(potential, 2),
                won_12m=int(f["won_12m"]),
                lost_12m=int(f["lost_12m"]),
                open_bids=int(f["open_bids"]),
                active_contracts=int(f["contracts"]),
                quadrant=rules.quadrant(service_level, potential),
                suggestion=None
                if move is None
                else ProposedMove(
                    account_id, name, move.id, tier, move.to_tier, move.reason, measures
                ),
            )
        )
    return Portfolio(today, rules.file, tuple(positions), _summaries(positions, rules))


def _summaries(positions: list[AccountPosition], rules: PortfolioRules) -> tuple[TierSummary, ...]:
    counts: Counter[str] = Counter()
    sums: dict[str, list[float]] = {tier: [0.0, 0.0, 0.0] for tier in rules.tiers}
    elsewhere: Counter[str] = Counter()
    for p in positions:
        counts[p.tier] += 1
        row = sums.setdefault(p.tier, [0.0, 0.0, 0.0])
        row[0] += p.revenue_eur
        row[1] += p.potential_eur
        row[2] += p.pipeline_eur
        elsewhere[p.tier] += int(p.quadrant != p.tier)
    return tuple(
        TierSummary(
            tier,
            counts[tier],
            round(s[0], 2),
            round(s[1], 2),
            round(s[2], 2),
            elsewhere[tier],
        )
        for tier, s in sums.items()
    )


def portfolio(session: Session, rules_dir: Path, today: date) -> Portfolio:
    """What `bid portfolio` shows."""
    return build_portfolio(session, load_portfolio_rules(rules_dir), today)


TIER_COLOURS = {
    "top": "#1f4e79",
    "major": "#2e75b6",
    "middle_market": "#70ad47",
    "direct": "#ffc000",
    "installed_base": "#a5a5a5",
}


def draw_portfolio(result: Portfolio, rules: PortfolioRules, path: Path) -> Path:
    """The portfolio matrix as a chart (PNG or SVG, by the file's suffix): one dot per
    account, service level across, potential revenue up, coloured by tier, with the
    matrix's dividing lines."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    suffix = path.suffix.lower().lstrip(".")
    with matplotlib.rc_context({"text.parse_math": False, "svg.hashsalt": "bid-portfolio"}):
        figure = Figure(figsize=(9, 6))
        axes = figure.add_subplot()
        for tier in rules.tiers:
            mine = [p for p in result.positions if p.tier == tier]
            if not mine:
                continue
            xs = [
                rules.service_rank(p.service_level) + ((p.account_id * 37) % 61 - 30) / 100
                for p in mine
            ]
            ys = [max(p.potential_eur, 1.0) for p in mine]
            axes.scatter(xs, ys, s=18, label=f"{tier} ({len(mine)})", c=TIER_COLOURS.get(tier))
        axes.set_yscale("log")
        split = rules.service_rank(rules.high_service_from) - 0.5
        axes.axvline(split, color="grey", linestyle="--", linewidth=1)
        axes.axhline(rules.high_revenue_from_eur, color="grey", linestyle="--", linewidth=1)
        axes.set_xticks(range(len(rules.service_levels)), list(rules.service_levels))
        axes.set_xlabel("service level")
        axes.set_ylabel("potential revenue a year (EUR, log scale)")
        axes.set_title(f"Customer portfolio, {result.as_of.isoformat()}")
        if result.positions:
            axes.legend(fontsize=8, loc="lower right")
        else:
            axes.text(0.5, 0.5, "no accounts yet", ha="center", transform=axes.transAxes)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata: dict[str, Any] = (
            {"Software": None} if suffix == "png" else {"Creator": None, "Date": None}
        )
        figure.savefig(path, format=suffix, dpi=100, metadata=metadata)
    return path
