"""A portfolio with known answers: accounts, bids and contracts written directly as rows.

`build_portfolio` writes a few dozen accounts (tiers, countries, groups, owners, service
levels, potential estimates, sleeping dates), their bids in every state with their moves,
teams, BANTS and go/no-go records, approvals, milestones, MACDs and sites (one with a
postcode no order sheet accepts), and the contracts the signed ones became. It returns the
`PortfolioSpec`: the parameters the tests compute every expected figure from, by hand,
independently of the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlmodel import Session

from orchestrator.lifecycle.table import State
from orchestrator.store.models import (
    Account,
    AccountEvent,
    Approval,
    ApprovalStatus,
    Area,
    AuditEvent,
    ChangeOrder,
    Contract,
    DecisionRecord,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Person,
    Site,
    TeamMember,
)

S = State
TIERS = ("top", "major", "middle_market", "direct", "installed_base")
COUNTRIES = ("BE", "NL", "DE")
LEVELS = (None, "basic", "standard", "enhanced", "premium")
STATES = (
    S.PRE_QUALIFICATION,
    S.QUALIFICATION,
    S.BID_PRODUCTION,
    S.GOVERNANCE_REVIEW,
    S.CONTRACT_PREPARATION,
    S.CONTRACTED,
    S.LOST,
    S.NO_BID,
    S.CUSTOMER_DECISION,
    S.STRATEGY_REWORK,
)
BID_MANAGERS = ("bm1@example.com", "bm2@example.com", "bm3@example.com")
OWNERS = ("am1@example.com", "am2@example.com")
GBP_RATE = 1.17
DECIDING_ROLES = {
    "technical": ("operations", "solution_consultant"),
    "financial": ("finance",),
    "legal": ("legal",),
    "management": ("management",),
}
"""Who decides each area, as rules/governance.json names them (stored on each approval)."""


@dataclass
class AccountSpec:
    index: int
    name: str
    tier: str
    country: str
    parent: str | None
    owner: str
    service_level: str | None
    potential: float | None
    sleeping_until: date | None
    id: int = 0


@dataclass
class MilestoneSpec:
    name: str
    due_at: datetime
    status: MilestoneStatus


@dataclass
class BidSpec:
    index: int
    account: str
    state: State
    currency: str
    fx_rate: float
    short: float
    medium: float
    long: float
    received_at: datetime
    moved_at: datetime
    decision_date: date
    bid_manager: str
    bants: dict[str, object]
    bants_record: dict[str, object] | None
    advice: dict[str, object] | None
    governance_round: int
    approvals: list[tuple[str, int, str]]
    """(area, round, status)"""
    milestones: list[MilestoneSpec]
    macds: list[tuple[str, str, datetime]]
    bad_postcodes: int
    category: str | None = None
    reason: str | None = None
    id: int = 0

    @property
    def ref(self) -> str:
        return f"OPP-{self.id:04d}"

    @property
    def first_year_eur(self) -> float:
        return (self.short + self.medium) * self.fx_rate


@dataclass
class ContractSpec:
    index: int
    account: str
    bid: int
    """Index of the bid it came from."""
    currency: str
    monthly: float
    monthly_eur: float
    one_off_eur: float
    start: date
    term: int
    renewal_bid: int | None = None
    renews: int | None = None
    id: int = 0

    @property
    def end(self) -> date:
        return self.start + relativedelta(months=self.term) - timedelta(days=1)

    @property
    def ref(self) -> str:
        return f"CON-{self.id:04d}"


@dataclass
class PortfolioSpec:
    now: datetime
    accounts: list[AccountSpec] = field(default_factory=list)
    bids: list[BidSpec] = field(default_factory=list)
    contracts: list[ContractSpec] = field(default_factory=list)

    def account(self, name: str) -> AccountSpec:
        return next(a for a in self.accounts if a.name == name)

    def bids_of(self, name: str) -> list[BidSpec]:
        return [b for b in self.bids if b.account == name]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def plan(now: datetime, accounts: int = 30) -> PortfolioSpec:
    """The parameters, before any row is written."""
    spec = PortfolioSpec(now)
    today = now.date()
    for i in range(accounts):
        tier = TIERS[i % len(TIERS)]
        parent = spec.accounts[i - 5].name if i >= 5 and i % 7 == 0 else None
        sleeping = None
        if i % 6 == 5:
            sleeping = today + timedelta(days=(i % 4) - 1)  # around today: this month mostly
        if i % 11 == 10:
            sleeping = today + timedelta(days=45)  # next month
        spec.accounts.append(
            AccountSpec(
                index=i,
                name=f"Account {i:02d} {'Société' if i % 4 == 0 else 'Group'}",
                tier=tier,
                country=COUNTRIES[i % 3],
                parent=parent,
                owner=OWNERS[i % 2],
                service_level=LEVELS[(i * 3) % 5],
                potential=None if i % 3 else 40_000.0 * (i + 1),
                sleeping_until=sleeping,
            )
        )
    for i, account in enumerate(spec.accounts):
        if account.sleeping_until is not None:
            continue  # a sleeping account has no open bid (some closed ones below)
        for j in range(3):
            n = len(spec.bids)
            state = STATES[(i * 3 + j) % len(STATES)]
            days = (i * 37 + j * 53) % 500
            moved_at = now - timedelta(days=days, hours=j)
            if state not in (S.CONTRACTED, S.LOST, S.NO_BID):
                moved_at = now - timedelta(days=(i + j) % 9, hours=1)
            gbp = (i + j) % 5 == 0
            rate = GBP_RATE if gbp else 1.0
            complete = state != S.PRE_QUALIFICATION or j % 2 == 0
            bants: dict[str, object] = {
                "budget_eur": 100_000.0 * (i + 1),
                "authority": "decision_maker",
                "need": "clear",
                "timeframe_months": 6,
                **({"sales_ready": True} if complete else {}),
            }
            scored = state in (S.QUALIFICATION, S.STRATEGY_REWORK) or (
                state == S.PRE_QUALIFICATION and complete and j == 0
            )
            governance_round = 2 if state == S.GOVERNANCE_REVIEW else 0
            approvals = (
                [
                    ("technical", 1, "requested"),
                    ("technical", 2, "requested"),
                    ("financial", 2, "granted"),
                    ("legal", 2, "requested"),
                ]
                if state == S.GOVERNANCE_REVIEW
                else []
            )
            milestones = [
                MilestoneSpec("overdue_one", now - timedelta(days=3), MilestoneStatus.OPEN),
                MilestoneSpec("due_soon", now + timedelta(days=5), MilestoneStatus.OPEN),
                MilestoneSpec("due_at_edge", now + timedelta(days=14), MilestoneStatus.OPEN),
                MilestoneSpec("later", now + timedelta(days=20), MilestoneStatus.OPEN),
                MilestoneSpec("done_one", now - timedelta(days=1), MilestoneStatus.DONE),
            ]
            macds = (
                [
                    ("S1", "change", now - timedelta(days=2)),
                    ("S1", "move", now - timedelta(days=10)),
                ]
                if state == S.CONTRACTED
                else []
            )
            spec.bids.append(
                BidSpec(
                    index=n,
                    account=account.name,
                    state=state,
                    currency="GBP" if gbp else "EUR",
                    fx_rate=rate,
                    short=10_000.0 * (j + 1),
                    medium=5_000.0 * (i + 1),
                    long=1_000.0,
                    received_at=moved_at - timedelta(days=10),
                    moved_at=moved_at,
                    decision_date=today + timedelta(days=(i + 2 * j) % 30 - 10),
                    bid_manager=BID_MANAGERS[(i + j) % 3],
                    bants=bants,
                    bants_record=(
                        {
                            "result": "qualified" if j != 1 else "nurture",
                            "score": 100 - 15 * j,
                            "failed": [] if j != 1 else ["budget"],
                        }
                        if scored
                        else None
                    ),
                    advice=(
                        {
                            "recommendation": "bid" if j != 1 else "redefine_strategy",
                            "reason": f"because {i}-{j}",
                            "rule": "gng.bid",
                            "hard": False,
                        }
                        if scored and state != S.PRE_QUALIFICATION
                        else None
                    ),
                    governance_round=governance_round,
                    approvals=approvals,
                    milestones=milestones,
                    macds=macds,
                    bad_postcodes=1 if state == S.CONTRACT_PREPARATION else 0,
                )
            )
    _special_cases(spec)
    for bid in spec.bids:
        if bid.state != S.CONTRACTED or any(c.bid == bid.index for c in spec.contracts):
            continue
        k = len(spec.contracts)
        term = (12, 24, 36)[k % 3]
        start = bid.moved_at.date()
        monthly_eur = 1_000.0 * (k + 1)
        spec.contracts.append(
            ContractSpec(
                index=k,
                account=bid.account,
                bid=bid.index,
                currency=bid.currency,
                monthly=round(monthly_eur / bid.fx_rate, 2),
                monthly_eur=monthly_eur,
                one_off_eur=500.0 * k,
                start=start,
                term=term,
            )
        )
    return spec


def _extra_bid(
    spec: PortfolioSpec,
    account: int,
    state: State,
    moved_at: datetime,
    *,
    category: str | None = None,
    reason: str | None = None,
) -> BidSpec:
    bid = BidSpec(
        index=len(spec.bids),
        account=spec.accounts[account].name,
        state=state,
        currency="EUR",
        fx_rate=1.0,
        short=20_000.0,
        medium=10_000.0,
        long=0.0,
        received_at=moved_at - timedelta(days=30),
        moved_at=moved_at,
        decision_date=moved_at.date() + timedelta(days=20),
        bid_manager=BID_MANAGERS[0],
        bants={
            "budget_eur": 50_000.0,
            "authority": "influencer",
            "need": "clear",
            "timeframe_months": 3,
            "sales_ready": True,
        },
        bants_record=None,
        advice=None,
        governance_round=0,
        approvals=[],
        milestones=[],
        macds=[],
        bad_postcodes=0,
        category=category,
        reason=reason,
    )
    spec.bids.append(bid)
    return bid


def _contract(
    spec: PortfolioSpec, bid: BidSpec, start: date, term: int, monthly_eur: float, **extra: int
) -> ContractSpec:
    contract = ContractSpec(
        index=len(spec.contracts),
        account=bid.account,
        bid=bid.index,
        currency=bid.currency,
        monthly=monthly_eur,
        monthly_eur=monthly_eur,
        one_off_eur=0.0,
        start=start,
        term=term,
        **extra,
    )
    spec.contracts.append(contract)
    return contract


def _special_cases(spec: PortfolioSpec) -> None:
    """Contracts chosen for the tier rules, the renewal scan and the churn (today 2026-11-27,
    renewal horizon 270 days)."""
    old = spec.now - timedelta(days=800)
    # a major account earning 55,000 a month: the rules suggest it for top
    big = _extra_bid(spec, 1, S.CONTRACTED, spec.now - timedelta(days=500))
    _contract(spec, big, date(2026, 3, 1), 36, 55_000.0)
    # ends in three days, nothing opened yet: the scan opens its renewal
    due = _extra_bid(spec, 6, S.CONTRACTED, old)
    _contract(spec, due, date(2024, 6, 1), 30, 4_000.0)
    # ends on the last day of the horizon (today + 270 days): opened too
    edge = _extra_bid(spec, 7, S.CONTRACTED, old)
    _contract(spec, edge, date(2024, 8, 25), 36, 7_000.0)
    # ended this month without a renewal bid: churn
    ended = _extra_bid(spec, 11, S.CONTRACTED, old)
    _contract(spec, ended, date(2023, 11, 10), 36, 3_000.0)
    # ended this month, its renewal bid lost on price: churn with that reason
    lost_renewal = _extra_bid(
        spec, 16, S.LOST, spec.now - timedelta(days=20), category="price", reason="cheaper rival"
    )
    signed = _extra_bid(spec, 16, S.CONTRACTED, old)
    _contract(spec, signed, date(2024, 11, 21), 24, 2_500.0, renewal_bid=lost_renewal.index)
    # within the horizon, its renewal already open: not opened again
    open_renewal = _extra_bid(spec, 21, S.QUALIFICATION, spec.now - timedelta(days=3))
    first = _extra_bid(spec, 21, S.CONTRACTED, old)
    _contract(spec, first, date(2024, 5, 16), 36, 6_000.0, renewal_bid=open_renewal.index)
    # within the horizon and already renewed by a newer contract: not opened again
    renewed = _extra_bid(spec, 26, S.CONTRACTED, old)
    earlier = _contract(spec, renewed, date(2024, 3, 2), 36, 5_000.0)
    renewal = _extra_bid(spec, 26, S.CONTRACTED, spec.now - timedelta(days=40))
    _contract(spec, renewal, date(2026, 10, 18), 36, 5_500.0, renews=earlier.index)
    # a middle-market account that lost its only bid and has no potential: down to direct
    _extra_bid(spec, 17, S.LOST, spec.now - timedelta(days=60), category="price")
    # a top account with a bid in governance (round 2: one approval of this round pending,
    # one of the old round left over) and one in contract preparation whose first site has
    # a postcode no order sheet accepts: the weekly pack shows both
    review = _extra_bid(spec, 25, S.GOVERNANCE_REVIEW, spec.now - timedelta(days=2))
    review.governance_round = 2
    review.approvals = [("technical", 1, "requested"), ("financial", 2, "requested")]
    review.approvals.append(("legal", 2, "granted"))
    prepared = _extra_bid(spec, 25, S.CONTRACT_PREPARATION, spec.now - timedelta(days=1))
    prepared.bad_postcodes = 1


def write(session: Session, spec: PortfolioSpec) -> PortfolioSpec:
    """Write the spec's rows; fills in the ids. The caller commits."""
    people: dict[str, Person] = {}
    for email in (*OWNERS, *BID_MANAGERS, "pm@example.com", "om@example.com"):
        people[email] = Person(email=email, name=email.split("@")[0], roles=[])
        session.add(people[email])
    session.flush()
    accounts: dict[str, Account] = {}
    for a in spec.accounts:
        row = Account(
            name=a.name,
            tier=a.tier,
            country=a.country,
            owner_id=people[a.owner].id,
            parent_id=accounts[a.parent].id if a.parent else None,
            service_level=a.service_level,
            potential_revenue_eur=a.potential,
            sleeping_until=a.sleeping_until,
            created_at=spec.now - timedelta(days=400),
        )
        session.add(row)
        session.flush()
        a.id = row.id or 0
        accounts[a.name] = row
        session.add(
            AccountEvent(
                account_id=a.id,
                at=spec.now - timedelta(days=3 if a.index % 4 == 0 else 30),
                actor="test",
                action="created",
                to_tier=a.tier,
            )
        )
    for b in spec.bids:
        opportunity = Opportunity(
            account_id=accounts[b.account].id or 0,
            title=f"Bid {b.index}",
            source="rfp",
            received_at=b.received_at,
            submission_deadline=b.decision_date - timedelta(days=1),
            decision_date=b.decision_date,
            revenue_short_term=b.short,
            revenue_medium_term=b.medium,
            revenue_long_term=b.long,
            currency=b.currency,
            fx_rate=b.fx_rate,
            contract_months=36,
            owner_id=people[OWNERS[b.index % 2]].id,
            services=["managed_network"],
            bants=b.bants,
            state=b.state,
            governance_round=b.governance_round,
            result_category=b.category,
            result_reason=b.reason,
            created_at=b.received_at,
            updated_at=b.moved_at,
        )
        session.add(opportunity)
        session.flush()
        b.id = opportunity.id or 0
        session.add(
            AuditEvent(
                opportunity_id=b.id,
                at=b.received_at,
                actor="test",
                from_state=None,
                to_state=S.PRE_QUALIFICATION,
                trigger="create",
            )
        )
        if b.state != S.PRE_QUALIFICATION:
            session.add(
                AuditEvent(
                    opportunity_id=b.id,
                    at=b.moved_at,
                    actor="test",
                    from_state=S.PRE_QUALIFICATION,
                    to_state=b.state,
                    trigger="moved",
                )
            )
        for role, email in (
            ("bid_manager", b.bid_manager),
            ("account_manager", OWNERS[b.index % 2]),
            ("project_manager", "pm@example.com"),
            ("order_manager", "om@example.com"),
        ):
            session.add(TeamMember(opportunity_id=b.id, person_id=people[email].id or 0, role=role))
        for table, outputs in (("bants", b.bants_record), ("go_no_go", b.advice)):
            if outputs is not None:
                session.add(
                    DecisionRecord(
                        opportunity_id=b.id,
                        table_name=table,
                        rule_file=f"{table}.json",
                        rule_hash="x",
                        inputs={},
                        outputs=outputs,
                        matched_rows=[],
                        evaluated_at=b.moved_at,
                    )
                )
        for area, round_, status in b.approvals:
            session.add(
                Approval(
                    opportunity_id=b.id,
                    area=Area(area),
                    round=round_,
                    status=ApprovalStatus(status),
                    deciding_roles=list(DECIDING_ROLES[area]),
                    requested_at=spec.now - timedelta(days=round_),
                )
            )
        for m in b.milestones:
            session.add(
                Milestone(
                    opportunity_id=b.id,
                    name=m.name,
                    due_at=m.due_at,
                    owner_role="account_manager",
                    status=m.status,
                )
            )
        for site_id, kind, at in b.macds:
            session.add(
                ChangeOrder(
                    opportunity_id=b.id, site_id=site_id, kind=kind, changes={}, actor="om", at=at
                )
            )
        for s in range(2):
            session.add(
                Site(
                    opportunity_id=b.id,
                    site_id=f"S{s + 1}",
                    name=f"Site {s + 1}",
                    street="Wetstraat 16",
                    postcode="12" if s < b.bad_postcodes else "1000",
                    city="Brussel",
                    country="BE",
                    bandwidth_mbps=100,
                    access="fiber",
                )
            )
    bids = {b.index: b for b in spec.bids}
    contracts: dict[int, Contract] = {}
    for c in spec.contracts:
        contract_row = Contract(
            account_id=accounts[c.account].id or 0,
            opportunity_id=bids[c.bid].id,
            services=["managed_network"],
            site_ids=["S1", "S2"],
            currency=c.currency,
            monthly_recurring=c.monthly,
            one_off=round(c.one_off_eur / bids[c.bid].fx_rate, 2),
            monthly_recurring_eur=c.monthly_eur,
            one_off_eur=c.one_off_eur,
            start_date=c.start,
            end_date=c.end,
            term_months=c.term,
            signed_at=_at(c.start),
            renewal_opportunity_id=bids[c.renewal_bid].id if c.renewal_bid is not None else None,
            renews_contract_id=contracts[c.renews].id if c.renews is not None else None,
        )
        session.add(contract_row)
        session.flush()
        c.id = contract_row.id or 0
        contracts[c.index] = contract_row
    return spec


def build_portfolio(session: Session, now: datetime, accounts: int = 30) -> PortfolioSpec:
    return write(session, plan(now, accounts))
