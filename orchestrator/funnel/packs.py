"""The meeting packs: the weekly update per top account and the qualification meeting.

Both are read in one read-only session and hold plain data (`weekly_top_accounts`,
`qualification_pack`); `orchestrator.funnel.pack_pages` writes them as HTML and PDF, and the
doors post the short summary (`summary`) to Slack through the bid layer.

Definitions (rules/portfolio.yaml `packs` holds the numbers; tests recompute each one):
- weekly pack, per account of the pack's tiers (top): its open bids and their step; open
  milestones of those bids due within `due_within_days` (not yet overdue) and overdue
  ones; approvals requested in each bid's current governance round and not yet answered;
  order-sheet problems of its bids in contract preparation (the clean order sheet's
  checks); MACDs and changes (state moves, audit events, account events) of the last
  `changes_since_days` days;
- qualification pack: bids awaiting the go/no-go (pre-qualification, qualification,
  strategy rework) with their BANTS facts, BANTS result and the rules' recommendation as
  recorded; the open bids past pre-qualification of everyone who has been a bid manager
  (free ones too) against `bid_manager_capacity`; sleeping accounts without an open bid
  that wake this month.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from orchestrator.decisions.catalogue import Catalogue
from orchestrator.decisions.funnel_rules import add_months, month_of
from orchestrator.decisions.portfolio_rules import load_portfolio_rules
from orchestrator.funnel.measure import as_utc_naive
from orchestrator.lifecycle.guards import BANTS_FIELDS
from orchestrator.lifecycle.table import ENDS, OPEN_STATES, State
from orchestrator.store.models import (
    Account,
    AccountEvent,
    Approval,
    ApprovalStatus,
    AuditEvent,
    ChangeOrder,
    DecisionRecord,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Person,
    Role,
    TeamMember,
)

AWAITING_DECISION = (State.PRE_QUALIFICATION, State.QUALIFICATION, State.STRATEGY_REWORK)
BUSY = [s.value for s in OPEN_STATES if s != State.PRE_QUALIFICATION]
"""States in which a bid takes a bid manager's time (as the go/no-go rules count them)."""


def _naive(moment: datetime) -> datetime:
    return as_utc_naive(moment)


def _week_label(moment: datetime) -> str:
    year, week, _ = moment.date().isocalendar()
    return f"{year}-W{week:02d}"


# --- the weekly update per top account -------------------------------------------------------


@dataclass(frozen=True)
class BidLine:
    ref: str
    title: str
    state: str
    source: str
    submission_deadline: str
    decision_date: str | None


@dataclass(frozen=True)
class MilestoneLine:
    ref: str
    name: str
    due_at: str
    owner_role: str
    days: int
    """Days until due (negative: days overdue)."""


@dataclass(frozen=True)
class ApprovalLine:
    ref: str
    area: str
    round: int
    requested_at: str
    waiting_days: int


@dataclass(frozen=True)
class ProblemLine:
    ref: str
    site_id: str
    problem: str


@dataclass(frozen=True)
class MacdLine:
    ref: str
    site_id: str
    kind: str
    at: str
    actor: str


@dataclass(frozen=True)
class ChangeLine:
    at: str
    subject: str
    what: str
    actor: str


@dataclass
class AccountWeek:
    name: str
    tier: str
    owner: str | None
    open_bids: list[BidLine] = field(default_factory=list)
    due_soon: list[MilestoneLine] = field(default_factory=list)
    overdue: list[MilestoneLine] = field(default_factory=list)
    approvals_pending: list[ApprovalLine] = field(default_factory=list)
    order_problems: list[ProblemLine] = field(default_factory=list)
    macds: list[MacdLine] = field(default_factory=list)
    changes: list[ChangeLine] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "open_bids": len(self.open_bids),
            "due_soon": len(self.due_soon),
            "overdue": len(self.overdue),
            "approvals_pending": len(self.approvals_pending),
            "order_problems": len(self.order_problems),
            "macds": len(self.macds),
            "changes": len(self.changes),
        }


@dataclass(frozen=True)
class WeeklyPack:
    as_of: datetime
    week: str
    since: datetime
    due_within_days: int
    tiers: tuple[str, ...]
    accounts: list[AccountWeek]
    bid_ids: tuple[int, ...] = ()
    """The accounts' open and contracted bids: whose teams attend the meeting."""

    @property
    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for account in self.accounts:
            for key, value in account.counts().items():
                totals[key] += value
        totals["accounts"] = len(self.accounts)
        return dict(totals)

    @property
    def opportunity_ids(self) -> list[int]:
        return list(self.bid_ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "weekly-top-accounts",
            "as_of": self.as_of.isoformat(),
            "week": self.week,
            "since": self.since.isoformat(),
            "due_within_days": self.due_within_days,
            "tiers": list(self.tiers),
            "totals": self.totals,
            "accounts": [{**asdict(a), "counts": a.counts()} for a in self.accounts],
        }


def _order_problems(
    session: Session, opportunity: Opportunity, catalogue: Catalogue
) -> list[ProblemLine]:
    from orchestrator.commercial.orders import order_lines

    return [
        ProblemLine(opportunity.ref, line.site_id, problem)
        for line in order_lines(session, opportunity, catalogue)
        for problem in line.problems
    ]


def weekly_top_accounts(session: Session, rules_dir: Path, now: datetime) -> WeeklyPack:
    """The weekly update of every account of the pack's tiers (top), by account name."""
    from orchestrator.commercial.quotes import catalogue_for

    rules = load_portfolio_rules(rules_dir).packs["weekly_top_accounts"]
    now_naive = _naive(now)
    since = now_naive - timedelta(days=rules.changes_since_days)
    since_utc = since.replace(tzinfo=UTC)  # query parameters are timezone-aware
    horizon_utc = (now_naive + timedelta(days=rules.due_within_days)).replace(tzinfo=UTC)
    emails = dict(session.exec(select(Person.id, Person.email)).all())
    accounts = session.exec(
        select(Account).where(col(Account.tier).in_(rules.tiers)).order_by(col(Account.name))
    ).all()
    weeks = {a.id: AccountWeek(a.name, a.tier, emails.get(a.owner_id or -1)) for a in accounts}
    bids = session.exec(
        select(Opportunity)
        .where(col(Opportunity.account_id).in_(list(weeks)))
        .order_by(col(Opportunity.id))
    ).all()
    by_id = {b.id: b for b in bids}
    open_ids = [b.id for b in bids if b.state not in ENDS]
    catalogue: Catalogue | None = None
    for bid in bids:
        if bid.state not in ENDS:
            weeks[bid.account_id].open_bids.append(
                BidLine(
                    bid.ref,
                    bid.title,
                    bid.state.value,
                    bid.source,
                    bid.submission_deadline.isoformat(),
                    bid.decision_date.isoformat() if bid.decision_date else None,
                )
            )
            if bid.state == State.CONTRACT_PREPARATION:
                if catalogue is None:
                    catalogue = catalogue_for(rules_dir)  # read once, when needed
                weeks[bid.account_id].order_problems.extend(
                    _order_problems(session, bid, catalogue)
                )
    for milestone in session.exec(
        select(Milestone)
        .where(col(Milestone.opportunity_id).in_(open_ids))
        .where(Milestone.status == MilestoneStatus.OPEN)
        .where(col(Milestone.due_at) <= horizon_utc)
        .order_by(col(Milestone.due_at), col(Milestone.id))
    ).all():
        bid = by_id[milestone.opportunity_id]
        due = _naive(milestone.due_at)
        line = MilestoneLine(
            bid.ref,
            milestone.name,
            due.isoformat(timespec="minutes"),
            milestone.owner_role,
            (due.date() - now_naive.date()).days,
        )
        week = weeks[bid.account_id]
        (week.overdue if due < now_naive else week.due_soon).append(line)
    for approval in session.exec(
        select(Approval)
        .where(col(Approval.opportunity_id).in_(open_ids))
        .where(Approval.status == ApprovalStatus.REQUESTED)
        .order_by(col(Approval.opportunity_id), col(Approval.id))
    ).all():
        bid = by_id[approval.opportunity_id]
        if approval.round != bid.governance_round:
            continue
        requested = _naive(approval.requested_at)
        weeks[bid.account_id].approvals_pending.append(
            ApprovalLine(
                bid.ref,
                approval.area,
                approval.round,
                requested.isoformat(timespec="minutes"),
                (now_naive - requested).days,
            )
        )
    all_ids = list(by_id)
    for order in session.exec(
        select(ChangeOrder)
        .where(col(ChangeOrder.opportunity_id).in_(all_ids))
        .where(col(ChangeOrder.at) >= since_utc)
        .order_by(col(ChangeOrder.at), col(ChangeOrder.id))
    ).all():
        bid = by_id[order.opportunity_id]
        weeks[bid.account_id].macds.append(
            MacdLine(
                bid.ref,
                order.site_id,
                order.kind,
                _naive(order.at).isoformat(timespec="minutes"),
                order.actor,
            )
        )
    for event in session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.opportunity_id).in_(all_ids))
        .where(col(AuditEvent.at) >= since_utc)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all():
        bid = by_id[event.opportunity_id]
        moved = event.from_state != event.to_state and event.to_state is not None
        what = f"{event.from_state or 'new'} → {event.to_state}" if moved else event.trigger
        if event.reason:
            what += f": {event.reason}"
        weeks[bid.account_id].changes.append(
            ChangeLine(_naive(event.at).isoformat(timespec="minutes"), bid.ref, what, event.actor)
        )
    for change in session.exec(
        select(AccountEvent)
        .where(col(AccountEvent.account_id).in_(list(weeks)))
        .where(col(AccountEvent.at) >= since_utc)
        .order_by(col(AccountEvent.at), col(AccountEvent.id))
    ).all():
        week = weeks[change.account_id]
        tiers = f" {change.from_tier or '—'} → {change.to_tier}" if change.to_tier else ""
        what = f"{change.action}{tiers}" + (f": {change.reason}" if change.reason else "")
        week.changes.append(
            ChangeLine(
                _naive(change.at).isoformat(timespec="minutes"), "account", what, change.actor
            )
        )
    for week in weeks.values():
        week.changes.sort(key=lambda c: c.at)
    return WeeklyPack(
        as_of=now_naive,
        week=_week_label(now_naive),
        since=since,
        due_within_days=rules.due_within_days,
        tiers=rules.tiers,
        accounts=list(weeks.values()),
        bid_ids=tuple(
            b.id or 0 for b in bids if b.state not in ENDS or b.state == State.CONTRACTED
        ),
    )


# --- the qualification meeting ------------------------------------------------------------------


@dataclass(frozen=True)
class LeadLine:
    ref: str
    account: str
    tier: str
    title: str
    state: str
    source: str
    incumbent: bool
    owner: str | None
    bid_managers: list[str]
    received: str
    days_waiting: int
    submission_deadline: str
    revenue_eur: float
    bants: dict[str, Any]
    bants_missing: list[str]
    bants_result: str | None
    bants_score: int | None
    bants_failed: list[str]
    recommendation: str | None
    recommendation_reason: str | None
    recommendation_rule: str | None
    hard: bool


@dataclass(frozen=True)
class CapacityLine:
    bid_manager: str
    open_bids: int
    capacity: int

    @property
    def over(self) -> bool:
        return self.open_bids > self.capacity

    @property
    def free(self) -> int:
        return self.capacity - self.open_bids


@dataclass(frozen=True)
class WakingAccount:
    name: str
    tier: str
    owner: str | None
    sleeping_until: str
    competitor: str | None
    competitor_contract_end: str | None


@dataclass(frozen=True)
class QualificationPack:
    as_of: datetime
    month: str
    leads: list[LeadLine]
    capacity: list[CapacityLine]
    waking: list[WakingAccount]

    @property
    def totals(self) -> dict[str, int]:
        return {
            "leads": len(self.leads),
            "recommended_bid": sum(1 for lead in self.leads if lead.recommendation == "bid"),
            "recommended_no_bid": sum(1 for lead in self.leads if lead.recommendation == "no_bid"),
            "without_recommendation": sum(1 for lead in self.leads if lead.recommendation is None),
            "bid_managers": len(self.capacity),
            "over_capacity": sum(1 for c in self.capacity if c.over),
            "waking": len(self.waking),
        }

    @property
    def opportunity_ids(self) -> list[int]:
        return sorted(int(lead.ref.split("-")[1]) for lead in self.leads)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "qualification",
            "as_of": self.as_of.isoformat(),
            "month": self.month,
            "totals": self.totals,
            "leads": [asdict(lead) for lead in self.leads],
            "capacity": [{**asdict(c), "over": c.over, "free": c.free} for c in self.capacity],
            "waking": [asdict(w) for w in self.waking],
        }


def _latest_records(session: Session, ids: list[int], table: str) -> dict[int, DecisionRecord]:
    latest: dict[int, DecisionRecord] = {}
    for record in session.exec(
        select(DecisionRecord)
        .where(col(DecisionRecord.opportunity_id).in_(ids))
        .where(DecisionRecord.table_name == table)
        .order_by(col(DecisionRecord.id))
    ).all():
        latest[record.opportunity_id] = record
    return latest


def qualification_pack(session: Session, rules_dir: Path, now: datetime) -> QualificationPack:
    """Leads awaiting the go/no-go, bid-manager capacity and accounts waking this month."""
    capacity = load_portfolio_rules(rules_dir).packs["qualification"].bid_manager_capacity
    now_naive = _naive(now)
    month = month_of(now_naive.date())
    emails = dict(session.exec(select(Person.id, Person.email)).all())
    accounts = {a.id: a for a in session.exec(select(Account)).all()}
    leads_rows = session.exec(
        select(Opportunity)
        .where(col(Opportunity.state).in_([s.value for s in AWAITING_DECISION]))
        .order_by(col(Opportunity.submission_deadline), col(Opportunity.id))
    ).all()
    ids = [b.id or 0 for b in leads_rows]
    bants = _latest_records(session, ids, "bants")
    advice = _latest_records(session, ids, "go_no_go")
    managers: dict[int, list[str]] = defaultdict(list)
    for opportunity_id, person_id in session.exec(
        select(TeamMember.opportunity_id, TeamMember.person_id)
        .where(col(TeamMember.opportunity_id).in_(ids))
        .where(TeamMember.role == Role.BID_MANAGER)
    ).all():
        managers[opportunity_id].append(emails[person_id])
    leads = []
    for bid in leads_rows:
        account = accounts[bid.account_id]
        b, a = bants.get(bid.id or 0), advice.get(bid.id or 0)
        received = _naive(bid.received_at)
        leads.append(
            LeadLine(
                ref=bid.ref,
                account=account.name,
                tier=account.tier,
                title=bid.title,
                state=bid.state.value,
                source=bid.source,
                incumbent=bid.incumbent,
                owner=emails.get(bid.owner_id) if bid.owner_id else None,
                bid_managers=sorted(managers.get(bid.id or 0, [])),
                received=received.date().isoformat(),
                days_waiting=(now_naive.date() - received.date()).days,
                submission_deadline=bid.submission_deadline.isoformat(),
                revenue_eur=round(bid.total_revenue * (bid.fx_rate or 1.0), 2),
                bants={k: bid.bants.get(k) for k in BANTS_FIELDS if k in bid.bants},
                bants_missing=[k for k in BANTS_FIELDS if bid.bants.get(k) is None],
                bants_result=str(b.outputs.get("result")) if b else None,
                bants_score=int(b.outputs["score"]) if b and "score" in b.outputs else None,
                bants_failed=list(b.outputs.get("failed", [])) if b else [],
                recommendation=str(a.outputs.get("recommendation")) if a else None,
                recommendation_reason=str(a.outputs.get("reason")) if a else None,
                recommendation_rule=str(a.outputs.get("rule")) if a else None,
                hard=bool(a.outputs.get("hard")) if a else False,
            )
        )
    counts = session.exec(
        select(TeamMember.person_id, func.count(func.distinct(TeamMember.opportunity_id)))
        .where(TeamMember.role == Role.BID_MANAGER)
        .where(TeamMember.opportunity_id == Opportunity.id)
        .where(col(Opportunity.state).in_(BUSY))
        .group_by(col(TeamMember.person_id))
    ).all()
    busy = {emails[person_id]: int(n) for person_id, n in counts}
    for person_id in session.exec(
        select(TeamMember.person_id).where(TeamMember.role == Role.BID_MANAGER).distinct()
    ).all():
        busy.setdefault(emails[person_id], 0)  # free: who could take the next bid
    open_accounts = set(
        session.exec(
            select(Opportunity.account_id).where(
                col(Opportunity.state).not_in([s.value for s in ENDS])
            )
        ).all()
    )
    end = add_months(month, 1).start
    waking = [
        WakingAccount(
            a.name,
            a.tier,
            emails.get(a.owner_id) if a.owner_id else None,
            a.sleeping_until.isoformat(),
            a.competitor,
            a.competitor_contract_end.isoformat() if a.competitor_contract_end else None,
        )
        for a in sorted(accounts.values(), key=lambda a: (a.sleeping_until or date.max, a.name))
        if a.sleeping_until is not None
        and month.start <= a.sleeping_until < end
        and a.id not in open_accounts
    ]
    return QualificationPack(
        as_of=now_naive,
        month=month.label,
        leads=leads,
        capacity=[CapacityLine(m, n, capacity) for m, n in sorted(busy.items())],
        waking=waking,
    )


# --- the short summary ------------------------------------------------------------------------


def weekly_summary(pack: WeeklyPack) -> str:
    t = pack.totals
    return (
        f"{t['accounts']} top accounts: {t.get('open_bids', 0)} open bids, "
        f"{t.get('due_soon', 0)} milestones due in {pack.due_within_days} days, "
        f"{t.get('overdue', 0)} overdue, {t.get('approvals_pending', 0)} approvals pending, "
        f"{t.get('order_problems', 0)} order-sheet problems, {t.get('macds', 0)} MACDs, "
        f"{t.get('changes', 0)} changes since last week"
    )


def qualification_summary(pack: QualificationPack) -> str:
    t = pack.totals
    return (
        f"{t['leads']} leads awaiting a decision ({t['recommended_bid']} recommended bid, "
        f"{t['recommended_no_bid']} no-bid, {t['without_recommendation']} not yet scored); "
        f"{t['over_capacity']} of {t['bid_managers']} bid managers over capacity; "
        f"{t['waking']} sleeping accounts wake in {pack.month}"
    )
