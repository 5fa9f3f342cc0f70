"""Win/loss analysis and sleeping accounts: what the closed bids teach, and who to call back.

- A bid is *won* once the customer accepted it (`contract_preparation` or `contracted`),
  *lost* in `lost`; win rate = won / (won + lost). No-bids and withdrawals are not
  customer decisions: they appear in the reasons breakdown, not in the win rate.
- A bid's *closing moment* is its first move into a won or end state.
- Lost and no-bid accounts become *sleeping accounts* (study §2.2: lost deals are not
  worthless): `orchestrator.bid.customers.accounts.put_to_sleep` sets `Account.sleeping_until` to
  the day a reminder is due.
  An account with an open bid is awake and is not listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from orchestrator.funnel.measure import BidTrail, load_trails
from orchestrator.lifecycle.table import ENDS, WON_STATES, State
from orchestrator.store.models import Account, format_ref

SLEEPING_ENDS: frozenset[str] = frozenset({State.LOST, State.NO_BID, State.WITHDRAWN})
"""The results that put an account to sleep (a withdrawal when the customer postponed)."""

UNCATEGORISED = "uncategorised"


def outcome(trail: BidTrail) -> str | None:
    """`won`, `lost`, `no_bid`, `withdrawn`, or None while the customer has not decided."""
    if trail.state in WON_STATES:
        return "won"
    if trail.state in ENDS:
        return trail.state
    return None


def closed_at(trail: BidTrail) -> datetime | None:
    """When the bid was won or ended: its first move into such a state."""
    closing = WON_STATES | ENDS
    return next((m.at for m in trail.moves if m.to_state in closing), None)


def _in_window(trail: BidTrail, since: datetime | None, until: datetime | None) -> bool:
    moment = closed_at(trail)
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment < until)


@dataclass(frozen=True)
class WinRate:
    """Won and lost customer decisions for one group (e.g. tier=top)."""

    group: str
    key: str
    won: int
    lost: int

    @property
    def rate(self) -> float | None:
        decided = self.won + self.lost
        return self.won / decided if decided else None


def win_rates(
    trails: Sequence[BidTrail], *, since: datetime | None = None, until: datetime | None = None
) -> list[WinRate]:
    """Win rate overall, by account tier, by service and incumbent versus challenger."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for trail in trails:
        result = outcome(trail)
        if result not in ("won", "lost") or not _in_window(trail, since, until):
            continue
        keys = [("overall", "all"), ("tier", trail.tier)]
        keys += [("service", service) for service in trail.services]
        keys.append(("position", "incumbent" if trail.incumbent else "challenger"))
        for key in keys:
            counts[key][result] += 1
    return [WinRate(group, key, c["won"], c["lost"]) for (group, key), c in sorted(counts.items())]


@dataclass(frozen=True)
class ReasonCount:
    """How often one reason category came with one outcome, and the reasons given."""

    outcome: str
    category: str
    count: int
    reasons: tuple[str, ...]


def reasons_breakdown(
    trails: Sequence[BidTrail], *, since: datetime | None = None, until: datetime | None = None
) -> list[ReasonCount]:
    """Closed bids counted by outcome and result category (missing: `uncategorised`)."""
    counts: Counter[tuple[str, str]] = Counter()
    reasons: dict[tuple[str, str], list[str]] = defaultdict(list)
    for trail in trails:
        result = outcome(trail)
        if result is None or not _in_window(trail, since, until):
            continue
        key = (result, trail.result_category or UNCATEGORISED)
        counts[key] += 1
        if trail.result_reason:
            reasons[key].append(trail.result_reason)
    return [ReasonCount(*key, counts[key], tuple(reasons[key])) for key in sorted(counts)]


@dataclass(frozen=True)
class SleepingAccount:
    """An account to keep warm after a lost or no-bid deal, with its latest result."""

    account_id: int
    name: str
    tier: str
    sleeping_until: date
    days_left: int
    last_bid: str | None
    last_result: str | None
    last_category: str | None
    last_reason: str | None

    @property
    def due(self) -> bool:
        """True when the reminder date has come."""
        return self.days_left <= 0

    def as_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "tier": self.tier,
            "sleeping_until": self.sleeping_until.isoformat(),
            "days_left": self.days_left,
            "due": self.due,
            "last_bid": self.last_bid,
            "last_result": self.last_result,
            "last_category": self.last_category,
            "last_reason": self.last_reason,
        }


def sleeping_accounts(session: Session, today: date) -> list[SleepingAccount]:
    """Accounts with a reminder date and no open bid, soonest reminder first."""
    trails = load_trails(session)
    open_accounts = {t.account_id for t in trails if t.state not in ENDS}
    latest: dict[int, BidTrail] = {}
    for trail in trails:
        if trail.state in SLEEPING_ENDS:
            best = latest.get(trail.account_id)
            moment = closed_at(trail) or trail.entered_at
            if best is None or moment >= (closed_at(best) or best.entered_at):
                latest[trail.account_id] = trail
    accounts = session.exec(
        select(Account)
        .where(col(Account.sleeping_until).is_not(None))
        .order_by(col(Account.sleeping_until), col(Account.name))
    ).all()
    result = []
    for account in accounts:
        if account.id is None or account.sleeping_until is None or account.id in open_accounts:
            continue
        last = latest.get(account.id)
        result.append(
            SleepingAccount(
                account_id=account.id,
                name=account.name,
                tier=account.tier,
                sleeping_until=account.sleeping_until,
                days_left=(account.sleeping_until - today).days,
                last_bid=format_ref(last.opportunity_id) if last else None,
                last_result=last.state if last else None,
                last_category=last.result_category if last else None,
                last_reason=last.result_reason if last else None,
            )
        )
    return result
