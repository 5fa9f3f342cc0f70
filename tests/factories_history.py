"""A bid history with known timings and outcomes, written directly as rows.

`build_history` writes accounts, people, opportunities and the audit trail of state moves
(`AuditEvent.from_state/to_state/at`) for a few hundred bids, and returns one `BidSpec` per
bid: the parameters the tests compute their expected figures from, independently of the
code under test. Every path is a plausible walk through the lifecycle; some loop (strategy
rework, governance rejection), some skip stages (a hybrid process), and bids whose path
runs past `now` are cut there and stay open.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from orchestrator.lifecycle.table import State
from orchestrator.store.models import Account, AuditEvent, Opportunity, Person

S = State
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
FIRST_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
DAYS_BETWEEN_BIDS = 2

OWNERS = ("anna.janssens@example.com", "bart.peeters@example.com", "chris.maes@example.com")
TIERS = ("top", "major", "installed_base")
SERVICES = ("managed_network", "hosting", "video_conferencing")
LOSS_CATEGORIES = (
    "price",
    "solution_fit",
    "relationship",
    "timing",
    "incumbent_retained",
    "price",
    "other",
)

BASE_WEEKS: dict[State, int] = {
    S.PRE_QUALIFICATION: 2,
    S.QUALIFICATION: 3,
    S.STRATEGY_REWORK: 1,
    S.KICK_OFF: 1,
    S.BID_PRODUCTION: 6,
    S.GOVERNANCE_REVIEW: 1,
    S.SUBMISSION: 1,
    S.CUSTOMER_DECISION: 8,
    S.CONTRACT_PREPARATION: 3,
}
"""Weeks a bid spends in each state: BASE_WEEKS[state] + (bid index % 4)."""

_PRODUCE = [S.KICK_OFF, S.BID_PRODUCTION, S.GOVERNANCE_REVIEW, S.SUBMISSION, S.CUSTOMER_DECISION]
_WIN = [S.CONTRACT_PREPARATION, S.CONTRACTED]
_START = [S.PRE_QUALIFICATION, S.QUALIFICATION]

PATHS: dict[str, list[State]] = {
    "won": [*_START, *_PRODUCE, *_WIN],
    "lost": [*_START, *_PRODUCE, S.LOST],
    "no_bid": [*_START, S.NO_BID],
    "withdrawn": [*_START, S.KICK_OFF, S.BID_PRODUCTION, S.WITHDRAWN],
    "rework_won": [*_START, S.STRATEGY_REWORK, S.QUALIFICATION, *_PRODUCE, *_WIN],
    "governance_lost": [
        *_START,
        S.KICK_OFF,
        S.BID_PRODUCTION,
        S.GOVERNANCE_REVIEW,
        S.BID_PRODUCTION,
        S.GOVERNANCE_REVIEW,
        S.SUBMISSION,
        S.CUSTOMER_DECISION,
        S.LOST,
    ],
    # hybrid: a major account without kick-off and governance review
    "hybrid_won": [*_START, S.BID_PRODUCTION, S.SUBMISSION, S.CUSTOMER_DECISION, *_WIN],
}
KIND_WEIGHTS = {
    "won": 25,
    "lost": 30,
    "no_bid": 15,
    "withdrawn": 10,
    "rework_won": 5,
    "governance_lost": 5,
    "hybrid_won": 10,
}


@dataclass
class BidSpec:
    """What the factory wrote for one bid: the facts the tests reason from."""

    index: int
    kind: str
    account: str
    tier: str
    owner: str
    services: list[str]
    incumbent: bool
    visits: list[tuple[State, datetime]]
    """(state, entered at) in order, cut at `now`: the last one is the current state."""
    revenue_short_term: float
    revenue_medium_term: float
    revenue_long_term: float
    decision_date: date | None
    category: str | None = None
    reason: str | None = None
    opportunity_id: int = 0
    account_id: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def state(self) -> State:
        return self.visits[-1][0]

    @property
    def start(self) -> datetime:
        return self.visits[0][1]

    def weeks(self, state: State) -> int:
        return BASE_WEEKS[state] + self.index % 4


def plan_bid(index: int, kind: str, start: datetime, now: datetime) -> list[tuple[State, datetime]]:
    """The visits of one bid: each state held for its known weeks, cut at `now`."""
    visits: list[tuple[State, datetime]] = []
    at = start
    for state in PATHS[kind]:
        if at > now:
            break
        visits.append((state, at))
        if state in BASE_WEEKS:
            at += timedelta(weeks=BASE_WEEKS[state] + index % 4)
    return visits


def custom_spec(
    index: int,
    visits: list[tuple[State, datetime]],
    *,
    owner: str = OWNERS[0],
    account: str | None = None,
    tier: str = "major",
    revenue: tuple[float, float, float] = (1000.0, 0.0, 0.0),
    decision_date: date | None = None,
    category: str | None = None,
) -> BidSpec:
    """One bid with hand-chosen visits (for small scenarios like the study's 64%)."""
    return BidSpec(
        index=index,
        kind="custom",
        account=account or f"Custom {index:02d}",
        tier=tier,
        owner=owner,
        services=["managed_network"],
        incumbent=False,
        visits=visits,
        revenue_short_term=revenue[0],
        revenue_medium_term=revenue[1],
        revenue_long_term=revenue[2],
        decision_date=decision_date,
        category=category,
    )


def specs_of_kinds(kinds: list[str], *, now: datetime = NOW) -> list[BidSpec]:
    """One bid per kind (see PATHS), started a week apart from January 2025."""
    return [
        custom_spec(i, plan_bid(i, kind, FIRST_START + timedelta(weeks=i), now))
        for i, kind in enumerate(kinds)
    ]


ALIAS = {S.STRATEGY_REWORK: S.QUALIFICATION}


def stage_at(spec: BidSpec, moment: datetime) -> State | None:
    """The funnel stage of the bid at `moment`, straight from its visits."""
    current = None
    for state, at in spec.visits:
        if at <= moment:
            current = ALIAS.get(state, state)
    return current


def reached(spec: BidSpec) -> set[State]:
    return {ALIAS.get(state, state) for state, _ in spec.visits}


def entered(spec: BidSpec, state: State) -> datetime | None:
    return next((at for s, at in spec.visits if s == state), None)


def make_specs(n: int = 340, *, now: datetime = NOW, seed: int = 7) -> list[BidSpec]:
    """The parameters of `n` bids, one started every two days from January 2025."""
    rng = random.Random(seed)
    kinds = list(KIND_WEIGHTS)
    specs = []
    for i in range(n):
        kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
        start = FIRST_START + timedelta(days=DAYS_BETWEEN_BIDS * i)
        account = i % 60
        spec = BidSpec(
            index=i,
            kind=kind,
            account=f"Account {account:02d}",
            tier=TIERS[account % 3],
            owner=OWNERS[i % 3],
            services=[SERVICES[i % 3]] + (["hosting"] if i % 7 == 0 and i % 3 != 1 else []),
            incumbent=i % 4 == 0,
            visits=plan_bid(i, kind, start, now),
            revenue_short_term=1000.0 * (i % 5 + 1),
            revenue_medium_term=12000.0 * (i % 3),
            revenue_long_term=24000.0 * (i % 2),
            decision_date=(start + timedelta(weeks=20)).date(),
        )
        if spec.state == S.LOST:
            spec.category, spec.reason = LOSS_CATEGORIES[i % 7], f"lost reason {i}"
        elif spec.state == S.NO_BID:
            spec.category, spec.reason = ("capacity", "strategic")[i % 2], f"no bid {i}"
        elif spec.state == S.WITHDRAWN:
            spec.category, spec.reason = "timing", f"withdrawn {i}"
        elif spec.state in (S.CONTRACT_PREPARATION, S.CONTRACTED):
            spec.category, spec.reason = "relationship", f"won {i}"
        specs.append(spec)
    return specs


def write_history(session: Session, specs: list[BidSpec]) -> list[BidSpec]:
    """Write the specs as rows (accounts, people, opportunities, audit events) and commit.

    Accounts and people already in the database are reused, so scenarios can be layered.
    """
    people = {p.email: p for p in session.exec(select(Person)).all()}
    for email in OWNERS:
        if email not in people:
            people[email] = Person(name=email.split("@")[0], email=email)
            session.add(people[email])
    accounts = {a.name: a for a in session.exec(select(Account)).all()}
    for spec in specs:
        if spec.account not in accounts:
            accounts[spec.account] = Account(name=spec.account, tier=spec.tier)
            session.add(accounts[spec.account])
    session.flush()
    for spec in specs:
        account = accounts[spec.account]
        opp = Opportunity(
            account_id=account.id or 0,
            title=f"Bid {spec.index}",
            source="rfp",
            received_at=spec.start,
            submission_deadline=(spec.start + timedelta(weeks=12)).date(),
            decision_date=spec.decision_date,
            revenue_short_term=spec.revenue_short_term,
            revenue_medium_term=spec.revenue_medium_term,
            revenue_long_term=spec.revenue_long_term,
            owner_id=people[spec.owner].id,
            incumbent=spec.incumbent,
            services=spec.services,
            state=spec.state,
            result_category=spec.category,
            result_reason=spec.reason,
        )
        session.add(opp)
        session.flush()
        spec.opportunity_id, spec.account_id = opp.id or 0, account.id or 0
        previous: State | None = None
        for state, at in spec.visits:
            session.add(
                AuditEvent(
                    opportunity_id=spec.opportunity_id,
                    at=at,
                    actor="factory",
                    from_state=previous,
                    to_state=state,
                    trigger="history",
                )
            )
            previous = state
    session.commit()
    return specs


def build_history(
    session: Session, n: int = 340, *, now: datetime = NOW, seed: int = 7
) -> list[BidSpec]:
    """Make and write `n` bids; returns their specs."""
    return write_history(session, make_specs(n, now=now, seed=seed))
