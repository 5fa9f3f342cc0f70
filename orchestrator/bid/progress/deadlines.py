"""The deadline watch: which Bid Control Plan milestones are due soon or overdue, and who hears.

Pure rules (`classify`, `levels_due`) plus one database pass (`watch`) that queues each
warning in the outbox under the key `milestone:{id}:{level}`, so a warning is sent once per
milestone and level however often the watch runs. The levels and the "due soon" window come
from `rules/milestones.yaml` (`warnings`): the owner when due soon, the bid manager when
overdue, management when overdue for `days`. Nothing here imports Prefect; the
`deadline_watch` flow publishes `board` and `control_plan` rows as artifacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from orchestrator.bid.customers.accounts import wake_due_accounts
from orchestrator.bid.facts import ORGANISATION_ROLES, team
from orchestrator.bid.measures.planning import WarningPolicy, load_milestone_rules
from orchestrator.bid.team.people import SCHEDULE_ACTOR, require_grant
from orchestrator.context import Context
from orchestrator.lifecycle.table import ENDS
from orchestrator.store import outbox
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import (
    Account,
    Grant,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Person,
    Role,
    format_ref,
)

DONE = MilestoneStatus.DONE.value
OPEN = MilestoneStatus.OPEN.value
DUE_SOON = "due soon"
OVERDUE = "overdue"

LEVEL_OWNER = "owner"
LEVEL_BID_MANAGER = "bid_manager"
LEVEL_MANAGEMENT = "management"

BOARD_ARTIFACT_KEY = "bid-deadlines"


def plan_artifact_key(ref: str) -> str:
    """`OPP-0001` → `bid-control-plan-opp-0001` (artifact keys: lowercase, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")
    return f"bid-control-plan-{slug}"


PLAN_COLUMNS = ("status", "milestone", "owner", "due", "days left")
"""The Bid Control Plan artifact's columns: where each milestone stands, first."""
_WORDS = {"rfp": "RFP", "go": "Go", "qrf": "QRF", "qrfs": "QRFs", "sla": "SLA", "macd": "MACD"}


def milestone_label(name: str) -> str:
    """A milestone's name as people write it: `go_no_go_decision` → `Go/no-go decision`,
    `rfp_answers` → `RFP answers`, `governance_signoff_legal` → `Governance signoff legal`."""
    text = name.replace("go_no_go", "go/no-go")
    words = [_WORDS.get(word, word) for word in text.split("_") if word]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def as_utc(moment: datetime) -> datetime:
    """Databases hand back naive datetimes; every time stored here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def days_left(due_at: datetime, now: datetime) -> int:
    """Calendar days from today to the due day (negative once the day has passed)."""
    return (as_utc(due_at).date() - as_utc(now).date()).days


def classify(due_at: datetime, now: datetime, policy: WarningPolicy, done: bool = False) -> str:
    """done | overdue (past its due moment) | due soon (within the window) | open."""
    if done:
        return DONE
    if as_utc(due_at) < as_utc(now):
        return OVERDUE
    if days_left(due_at, now) <= policy.due_soon_days:
        return DUE_SOON
    return OPEN


def levels_due(due_at: datetime, now: datetime, policy: WarningPolicy) -> list[str]:
    """Who must have heard by now about an open milestone, in escalation order."""
    status = classify(due_at, now, policy)
    levels: list[str] = []
    if status in (DUE_SOON, OVERDUE):
        levels.append(LEVEL_OWNER)
    if status == OVERDUE:
        levels.append(LEVEL_BID_MANAGER)
        late = as_utc(now) - as_utc(due_at)
        if late >= timedelta(days=policy.management_after_overdue_days):
            levels.append(LEVEL_MANAGEMENT)
    return levels


@dataclass(frozen=True)
class DeadlineRow:
    """One milestone of one bid, as the deadline board and the Bid Control Plan show it."""

    milestone_id: int
    opportunity_id: int
    ref: str
    title: str
    account: str
    state: str
    milestone: str
    owner_role: str
    owner: str
    due_at: datetime
    days_left: int
    status: str

    def plan_row(self) -> dict[str, str | int]:
        """A row of the Bid Control Plan artifact: the status first, the milestone in words."""
        return {
            "status": self.status,
            "milestone": milestone_label(self.milestone),
            "owner": f"{self.owner_role.replace('_', ' ')}: {self.owner}",
            "due": as_utc(self.due_at).strftime("%Y-%m-%d %H:%M UTC"),
            "days left": self.days_left,
        }

    def table_row(self) -> dict[str, str | int]:
        """A row of the Prefect table artifact (and of `bid deadlines --json`)."""
        return {
            "bid": self.ref,
            "account": self.account,
            "milestone": self.milestone,
            "owner": f"{self.owner_role}: {self.owner}",
            "due": as_utc(self.due_at).strftime("%Y-%m-%d %H:%M UTC"),
            "days left": self.days_left,
            "status": self.status,
        }


@dataclass
class WatchReport:
    """What one watch saw and queued."""

    board: list[DeadlineRow] = field(default_factory=list)
    queued: list[tuple[int, str, str]] = field(default_factory=list)
    """(milestone id, level, recipient) of the warnings queued by this run."""
    woken: list[tuple[str, str]] = field(default_factory=list)
    """(account, recipient) of the sleeping accounts whose wake-up day came in this run."""

    def plans(self) -> dict[str, list[DeadlineRow]]:
        """The open bids on the board with their milestones, by bid id."""
        by_bid: dict[str, list[DeadlineRow]] = {}
        for row in self.board:
            by_bid.setdefault(row.ref, []).append(row)
        return by_bid


class _People:
    """Who holds a role on a bid, for the rows of one read: each bid's team and the whole
    organisation read once, not once per milestone (a plan has about fourteen)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.teams: dict[int, list[tuple[str, Person]]] = {}
        self.everyone: list[Person] | None = None

    def holding(self, opportunity_id: int, role: str) -> list[Person]:
        """Who holds `role` on the bid; management, finance and legal hold theirs on every
        bid."""
        if opportunity_id not in self.teams:
            self.teams[opportunity_id] = team(self.session, opportunity_id)
        members = [p for r, p in self.teams[opportunity_id] if r == role]
        if members or role not in ORGANISATION_ROLES:
            return members
        if self.everyone is None:
            self.everyone = list(self.session.exec(select(Person).order_by(col(Person.id))).all())
        return [p for p in self.everyone if role in p.roles]


def _people(session: Session, opportunity_id: int, role: str) -> list[Person]:
    """Who holds `role` on the bid; management, finance and legal hold theirs on every bid."""
    return _People(session).holding(opportunity_id, role)


def _owner_label(people: list[Person]) -> str:
    return ", ".join(p.email for p in people) or "nobody assigned"


def _rows(
    session: Session,
    now: datetime,
    policy: WarningPolicy,
    *,
    opportunity_id: int | None = None,
    include_done: bool = False,
) -> list[DeadlineRow]:
    statement = (
        select(Milestone, Opportunity, Account)
        .where(Milestone.opportunity_id == Opportunity.id)
        .where(Opportunity.account_id == Account.id)
        .order_by(col(Milestone.due_at), col(Milestone.id))
    )
    if opportunity_id is not None:
        statement = statement.where(Opportunity.id == opportunity_id)
    else:
        statement = statement.where(col(Opportunity.state).not_in([s.value for s in ENDS]))
        statement = statement.where(col(Opportunity.held_at).is_(None))  # on hold: paused
    if not include_done:
        statement = statement.where(Milestone.status != MilestoneStatus.DONE)
    rows = []
    people = _People(session)
    for milestone, opportunity, account in session.exec(statement).all():
        owners = people.holding(opportunity.id or 0, milestone.owner_role)
        rows.append(
            DeadlineRow(
                milestone_id=milestone.id or 0,
                opportunity_id=opportunity.id or 0,
                ref=format_ref(opportunity.id),
                title=opportunity.title,
                account=account.name,
                state=opportunity.state,
                milestone=milestone.name,
                owner_role=milestone.owner_role,
                owner=_owner_label(owners),
                due_at=as_utc(milestone.due_at),
                days_left=days_left(milestone.due_at, now),
                status=classify(
                    milestone.due_at, now, policy, done=milestone.status == MilestoneStatus.DONE
                ),
            )
        )
    return rows


def board(ctx: Context) -> list[DeadlineRow]:
    """Every open milestone of every open bid, soonest first."""
    _, policy = load_milestone_rules(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        return _rows(session, ctx.clock(), policy)


def control_plan(ctx: Context, ref: str) -> list[DeadlineRow]:
    """A bid's whole Bid Control Plan, done milestones included."""
    from orchestrator.bid.facts import get_opportunity

    _, policy = load_milestone_rules(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return _rows(session, ctx.clock(), policy, opportunity_id=opportunity.id, include_done=True)


def _recipient(session: Session, row: DeadlineRow, level: str) -> Person | None:
    role = {
        LEVEL_OWNER: row.owner_role,
        LEVEL_BID_MANAGER: Role.BID_MANAGER.value,
        LEVEL_MANAGEMENT: Role.MANAGEMENT.value,
    }[level]
    people = _people(session, row.opportunity_id, role)
    return people[0] if people else None


def check_may_notify(ctx: Context, by: str) -> None:
    """Refuse the deadline warnings (`deadlines --notify`) by anyone but the schedule,
    management or an admin; a door that hands the watch to a flow asks this first."""
    with reading(ctx.engine) as session:
        require_grant(session, by, [Grant.MANAGEMENT], "send the deadline warnings")


def watch(ctx: Context, *, notify: bool = True, by: str = SCHEDULE_ACTOR) -> WatchReport:
    """Read the board and queue the warnings now due, each once per milestone and level.
    Queuing (`notify`) is the schedule's, management's or an admin's (`by`)."""
    _, policy = load_milestone_rules(ctx.settings.rules_dir)
    now = ctx.clock()
    report = WatchReport()
    if notify:
        check_may_notify(ctx, by)
    with reading(ctx.engine) as session:
        report.board = _rows(session, now, policy)
    if not notify:
        return report
    with transaction(ctx.engine) as session:  # short: only the warnings due are queued
        for row in report.board:
            for level in levels_due(row.due_at, now, policy):
                person = _recipient(session, row, level)
                text = ctx.messages.render(
                    "milestone_warning",
                    ref=row.ref,
                    title=row.title,
                    milestone=row.milestone,
                    overdue=row.status == OVERDUE,
                    due_at=as_utc(row.due_at).strftime("%Y-%m-%d %H:%M UTC"),
                    owner_role=row.owner_role,
                    level=level,
                )
                queued = outbox.enqueue(
                    session,
                    key=f"milestone:{row.milestone_id}:{level}",
                    event="milestone_warning",
                    text=text,
                    opportunity_id=row.opportunity_id,
                    recipient_email=person.email if person else None,
                )
                if queued:
                    report.queued.append(
                        (row.milestone_id, level, person.email if person else "(nobody)")
                    )
        # sleeping accounts whose day has come: once per date (the renewal scan does the same)
        report.woken = [
            (woken.account, email)
            for woken in wake_due_accounts(session, ctx)
            for email in (woken.told or ("(nobody)",))
        ]
    return report
