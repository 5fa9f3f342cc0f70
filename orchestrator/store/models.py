"""The bid record: SQLModel tables, the single source of truth for every bid.

Rows hold data only; the lifecycle lives in `lifecycle.py` and moves through `machine.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlmodel import Field, SQLModel

from orchestrator.core.effects import EffectKind, EffectStatus
from orchestrator.store.types import EnumText
from orchestrator.text import fold_name


def utcnow() -> datetime:
    return datetime.now(UTC)


class State(StrEnum):
    """Where a bid is in its lifecycle; the transitions are in `orchestrator.lifecycle.table`."""

    PRE_QUALIFICATION = "pre_qualification"
    QUALIFICATION = "qualification"
    STRATEGY_REWORK = "strategy_rework"
    KICK_OFF = "kick_off"
    BID_PRODUCTION = "bid_production"
    GOVERNANCE_REVIEW = "governance_review"
    SUBMISSION = "submission"
    CUSTOMER_DECISION = "customer_decision"
    CONTRACT_PREPARATION = "contract_preparation"
    NO_BID = "no_bid"
    LOST = "lost"
    CONTRACTED = "contracted"
    WITHDRAWN = "withdrawn"


class MilestoneStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CLOSED = "closed"
    """The bid closed before the milestone was reached."""


class QuoteKind(StrEnum):
    BUDGETARY = "budgetary"
    FIRM = "firm"


class Compliance(StrEnum):
    """How far the offer meets one requirement of the customer's questionnaire."""

    COMPLY = "comply"
    PARTIAL = "partial"
    NON_COMPLY = "non_comply"
    NOT_APPLICABLE = "n_a"


class RequirementState(StrEnum):
    """Where the answer to one requirement stands: nothing yet, a draft for its owner (a
    library suggestion below the automatic threshold, or a rejected answer), an answer, or
    an answer a reviewer accepted."""

    OPEN = "open"
    DRAFT = "draft"
    ANSWERED = "answered"
    REVIEWED = "reviewed"


class Tier(StrEnum):
    """The customer portfolio's tiers, from strategic accounts down (bid-process.md)."""

    TOP = "top"
    """Strategic accounts: the bid manager leads, a solution consultant designs."""
    MAJOR = "major"
    MIDDLE_MARKET = "middle_market"
    """Mid-sized customers and prospects; they move up to major or down to the direct channel."""
    DIRECT = "direct"
    """Customers served through the direct sales channel (sales support leads)."""
    INSTALLED_BASE = "installed_base"


class Role(StrEnum):
    ACCOUNT_MANAGER = "account_manager"
    BID_MANAGER = "bid_manager"
    SOLUTION_CONSULTANT = "solution_consultant"
    SALES_SUPPORT = "sales_support"
    MANAGEMENT = "management"
    FINANCE = "finance"
    LEGAL = "legal"
    OPERATIONS = "operations"
    PROJECT_MANAGER = "project_manager"
    SERVICE_DELIVERY_MANAGER = "service_delivery_manager"
    ORDER_MANAGER = "order_manager"
    SALES_MANAGER = "sales_manager"


class Source(StrEnum):
    RFP = "rfp"
    PROSPECTING = "prospecting"
    RENEWAL = "renewal"
    """Opened by the renewal scan for a contract that ends within the horizon."""


class Service(StrEnum):
    MANAGED_NETWORK = "managed_network"
    HOSTING = "hosting"
    VIDEO_CONFERENCING = "video_conferencing"


class Access(StrEnum):
    FIBER = "fiber"
    COPPER = "copper"
    WIRELESS = "wireless"
    G4 = "4g"
    G5 = "5g"


class Area(StrEnum):
    """Governance approval areas (management is added by thresholds)."""

    TECHNICAL = "technical"
    FINANCIAL = "financial"
    LEGAL = "legal"
    MANAGEMENT = "management"


class ApprovalStatus(StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    REJECTED = "rejected"
    INVALIDATED = "invalidated"
    CANCELLED = "cancelled"
    """The bid closed (withdrawn, lost, no bid) while the approval was still requested."""


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class ChangeOrderStatus(StrEnum):
    APPLIED = "applied"
    AWAITING_APPROVAL = "awaiting_approval"
    """A price-changing MACD waits for its financial approval before it is applied."""
    REJECTED = "rejected"


class Account(SQLModel, table=True):
    """A customer or prospect: its place in the portfolio, its group, its buying model.

    Changes to an account are kept in its own trail (`AccountEvent`, built in
    `orchestrator/bid/customers/accounts.py` only); a bid never changes its account's tier.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    name_key: str = Field(default="", index=True, unique=True)
    """The name folded for comparison (case and accents dropped): 'Société Générale' and
    'SOCIETE GENERALE' are one account. Filled from `name` on every write."""
    tier: str
    sleeping_until: date | None = None
    parent_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    """The group (holding) this company belongs to; None for a group or a stand-alone."""
    country: str | None = None
    """Where the account is served from (BE, NL, ...): the monthly review's split."""
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    """The account manager who owns the relationship."""
    customer_profile: str | None = None
    purchasing_process: str | None = None
    external_influences: str | None = None
    """The buying-model segment (rules/portfolio.yaml lists the values of each)."""
    service_level: str | None = None
    """The service level the account asks for (rules/portfolio.yaml `service_levels`)."""
    potential_revenue_eur: float | None = None
    """Annual revenue the account could bring, as judged by its owner."""
    competitor: str | None = None
    competitor_contract_end: date | None = None
    """When the competitor's contract ends (learned from a lost bid): the account wakes
    ahead of it (rules/portfolio.yaml `wake.before_competitor_end_days`)."""
    created_at: datetime = Field(default_factory=utcnow)


@event.listens_for(Account, "before_insert")
def _fold_new_account_name(_mapper: Any, _connection: Any, account: Account) -> None:
    account.name_key = fold_name(account.name)


@event.listens_for(Account, "before_update")
def _fold_changed_account_name(_mapper: Any, _connection: Any, account: Account) -> None:
    if inspect(account).attrs.name.history.has_changes():
        account.name_key = fold_name(account.name)


class AccountEvent(SQLModel, table=True):
    """Append-only account trail: created, imported, tier changed (with its reason), moves
    suggested, accepted and declined, woken. Built in `orchestrator/bid/customers/accounts.py`
    only."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    from_tier: str | None = None
    to_tier: str | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    key: str | None = Field(default=None, unique=True)
    """Idempotency key of an automated event (a wake-up is recorded once per date)."""


class SuggestionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"
    """The account's tier changed meanwhile: the move no longer applies."""


class PortfolioSuggestion(SQLModel, table=True):
    """A tier move rules/portfolio.yaml suggests, until management accepts or declines it."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    rule_id: str
    from_tier: str
    to_tier: str
    reason: str
    measures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: SuggestionStatus = Field(
        default=SuggestionStatus.OPEN,
        sa_column=Column(EnumText(SuggestionStatus), index=True, nullable=False),
    )
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


class Contract(SQLModel, table=True):
    """What a won bid became when it was signed: services, sites, the priced monthly
    recurring revenue, start, end and term. Built in `orchestrator/bid/contracting/contracts.py`
    only."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", unique=True)
    renews_contract_id: int | None = Field(default=None, foreign_key="contract.id", index=True)
    """The contract this one renews (its bid was the renewal opportunity)."""
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    site_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    currency: str
    monthly_recurring: float
    """Monthly recurring revenue in the bid's currency, from the priced deal."""
    one_off: float
    monthly_recurring_eur: float
    one_off_eur: float
    start_date: date = Field(index=True)
    end_date: date = Field(index=True)
    """The last day of the term."""
    term_months: int
    signed_at: datetime = Field(default_factory=utcnow)
    renewal_opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id")
    """The renewal opportunity the renewal scan opened for it."""

    @property
    def ref(self) -> str:
        return f"CON-{self.id or 0:04d}"


class Grant(StrEnum):
    """What an admin grants a person for the whole organisation (`bid people grant`).

    Team roles are not grants: a role named in a bid's team holds on that bid only.
    """

    MANAGEMENT = "management"
    FINANCE = "finance"
    LEGAL = "legal"
    ADMIN = "admin"
    """Manages people, grants and credentials; may act on every bid and record for others."""
    RECORDER = "recorder"
    """May record an answer given by someone else (`--by`), e.g. a decision taken in a meeting."""
    LIBRARY_EDITOR = "library_editor"
    """May import answers into the company's answer library (`bid rfp library import`)."""


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str = Field(index=True, unique=True)
    slack_user_id: str | None = Field(default=None, unique=True)
    """Set by an admin only (`bid people set`); Slack clicks are mapped to people by it."""
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Organisation-wide grants (`Grant`), given and taken by an admin; never from a bid."""


class Credential(SQLModel, table=True):
    """A person's access token, stored as its SHA-256 only (the token is shown once)."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(unique=True)
    issued_at: datetime = Field(default_factory=utcnow)
    issued_by: str
    revoked_at: datetime | None = None


class PeopleEvent(SQLModel, table=True):
    """Append-only admin trail: who changed whom (identity fields, grants, credentials)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Opportunity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    title: str
    source: str
    rfp_reference: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    submission_deadline: date
    decision_date: date | None = None
    revenue_short_term: float = 0.0
    revenue_medium_term: float = 0.0
    revenue_long_term: float = 0.0
    currency: str = "EUR"
    fx_rate: float | None = None
    """EUR per unit of `currency`, recorded when the bid was created (prices use this rate)."""
    fx_as_of: str | None = None
    """The date of the rate in rules/fx_rates.yaml that `fx_rate` was taken from."""
    contract_months: int = 36
    """The contract term the prices run over."""
    deviations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Non-standard terms the customer asked for (governance: legal reads them)."""
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    strategy: str | None = None
    strategic_fit: str = "medium"
    incumbent: bool = False
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    bants: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pricing: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: State = Field(sa_column=Column(EnumText(State), index=True, nullable=False))
    proposal_hash: str | None = None
    governance_round: int = 0
    """How many times governance was requested; the approvals of the last round count."""
    strategy_reworked: bool = False
    """After *redefine strategy*: has a reworked strategy been recorded since?"""
    design_version: int = 0
    """How many times the solution design was frozen (`bid freeze`)."""
    design_frozen: bool = False
    """Is design version `design_version` still frozen? Any change to sites or quotes thaws it."""
    rejected_fingerprint: str | None = None
    """The bid's content when governance last rejected it: the same cannot be resubmitted."""
    rejection_note: str | None = None
    """Who rejected what and why, for "nothing changed since the rejection by ..."."""
    result_reason: str | None = None
    result_category: str | None = None
    # the customer's decision as it happens (bid result)
    offer_round: int = 1
    """Offers submitted so far, counting the one being made: a best-and-final offer adds one."""
    shortlisted: bool = False
    offered: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """The offer the customer holds (value, margin, round) when a best-and-final offer is asked:
    governance judges the revised price against it."""
    competitor: str | None = None
    """Who won instead (a lost bid)."""
    price_gap_pct: float | None = None
    """How far our price was above the winner's, in percent (a lost bid)."""
    service_strategy: str | None = None
    """How we sell this bid (cost_transparency, qos, sla; rules/proposal.yaml), chosen
    explicitly at kick-off (`bid service-strategy`, or the opportunity YAML)."""
    win_themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Why the customer should choose us, in their words: the proposal leads with them."""
    legal_entity: str | None = None
    """The customer's contracting legal entity (order sheet; `bid order details`)."""
    billing_entity: str | None = None
    purchase_order: str | None = None
    contract_start: date | None = None
    submitted_at: datetime | None = None
    """When the offer went out to the customer (`bid submit --at`): the decision clock's start."""
    submitted_by: str | None = None
    """Who sent the offer (`bid submit --by`)."""
    submission_channel: str | None = None
    """How it went out: portal, email or hand."""
    submission_reference: str | None = None
    """The customer's portal receipt, the e-mail's subject, the courier's slip."""
    held_at: datetime | None = None
    """Set while the bid is on hold (`bid hold`): it keeps its state and moves nowhere."""
    hold_reason: str | None = None
    hold_until: date | None = None
    version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def ref(self) -> str:
        return format_ref(self.id)

    @property
    def total_revenue(self) -> float:
        return self.revenue_short_term + self.revenue_medium_term + self.revenue_long_term


def format_ref(opportunity_id: int | None) -> str:
    """The id users see and type: OPP-0007."""
    return f"OPP-{opportunity_id or 0:04d}"


class TeamMember(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("opportunity_id", "role", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    role: str


class Site(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("opportunity_id", "site_id"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    bandwidth_mbps: int
    access: str
    service: str = "managed_network"
    ordered: bool = True
    order_line: int = 0
    """The site's order-line id: given once, never renumbered (a deleted line keeps its gap)."""
    # the site contact (optional sites-CSV columns)
    contact_name: str | None = None
    contact_phone: str | None = None
    """E.164, checked with phonenumbers."""
    contact_email: str | None = None
    requested_install_date: date | None = None
    sla_class: str | None = None
    """rules/delivery.yaml's class; None: the default for the access type."""
    interface: str | None = None
    """The handover interface; None: the default for the bandwidth (rules/delivery.yaml)."""
    resilience: str | None = None
    """single, dual_path, ... (rules/delivery.yaml); None: the default."""
    # an offered alternative (bid design propose): `access` and `bandwidth_mbps` then hold
    # what we propose — what is quoted, priced and ordered — and these what the customer asked
    asked_access: str | None = None
    asked_bandwidth_mbps: int | None = None
    proposal_reason: str | None = None
    asked: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """What the customer asked of the design fields we changed since (access, bandwidth_mbps,
    service, sla_class, interface, resilience): empty when the site is built as asked. Kept
    from the first change, so the technical approver sees the design against the ask."""
    redesign_reason: str | None = None
    """Why the site differs from what the customer asked (`bid sites update --reason`)."""


class Quote(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    site_id: str
    provider: str
    kind: QuoteKind = Field(sa_column=Column(EnumText(QuoteKind), nullable=False))
    monthly_cost: float
    one_off_cost: float
    currency: str
    valid_until: date
    superseded: bool = False
    imported_at: datetime = Field(default_factory=utcnow)
    spec: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The site specification the quote priced (access, bandwidth, service, address, SLA
    class); a site whose spec changed since holds a stale quote. None: recorded before
    quotes kept their spec (taken as the site's current one)."""
    provider_reference: str | None = None
    """The carrier's own quote reference (ordering quotes it back)."""
    delivery_days: int | None = None
    """Working days from order to delivery, as the carrier quoted them."""
    outlier: str | None = None
    """Why the cost is an outlier (far from the list price) while no one has accepted it
    (bid quotes accept|requote): until then the margin counts the site as unquoted."""


class QuoteImport(SQLModel, table=True):
    """One quote file imported into a bid, by content: the same content is never applied twice."""

    __table_args__ = (UniqueConstraint("opportunity_id", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    file_name: str
    content_hash: str
    rows: int
    actor: str
    imported_at: datetime = Field(default_factory=utcnow)


class QuoteRequest(SQLModel, table=True):
    """A QRF (or internal quote task) written and recorded: who is asked, for which sites,
    by when. `bid qrf` records one per country and provider; the same request is recorded once."""

    __table_args__ = (UniqueConstraint("opportunity_id", "name", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    name: str
    country: str
    provider: str
    budgetary_site_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    firm_site_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reply_by: date
    content_hash: str
    recorded_at: datetime = Field(default_factory=utcnow)
    superseded: bool = False
    answered_at: datetime | None = None
    amends: str | None = None
    """The request this one amends (its name): an amendment asks only for the changed and
    new sites of that request."""
    withdrawn_site_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    """Lines of earlier requests this one withdraws (the site's spec changed or it left)."""
    cancelled_at: datetime | None = None
    """When the request was cancelled (the bid went on hold or was withdrawn), and why."""
    cancel_reason: str | None = None


class DesignFreeze(SQLModel, table=True):
    """A version of the solution design frozen by the consultant or bid manager."""

    __table_args__ = (UniqueConstraint("opportunity_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    version: int
    frozen_by: str
    note: str | None = None
    fingerprint: str
    frozen_at: datetime = Field(default_factory=utcnow)
    thawed_at: datetime | None = None
    thaw_reason: str | None = None


class Questionnaire(SQLModel, table=True):
    """A customer's RFP questionnaire as imported: the file itself (the answers go back into
    a copy of it, same sheet, same rows) and how its columns were read."""

    __table_args__ = (UniqueConstraint("opportunity_id", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    file_name: str
    content_hash: str
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sheet: str | None = None
    """The worksheet read (None: a CSV file)."""
    header_row: int = 1
    columns: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """Field → 1-based column number (id, section, text, mandatory, answer, compliance)."""
    imported_by: str
    imported_at: datetime = Field(default_factory=utcnow)
    current: bool = True


class Requirement(SQLModel, table=True):
    """One requirement or question of the customer's questionnaire, and our answer to it."""

    __table_args__ = (UniqueConstraint("opportunity_id", "req_id"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    questionnaire_id: int = Field(foreign_key="questionnaire.id", index=True)
    req_id: str
    """The customer's id of the requirement, as written in their file."""
    row: int
    """Its row in the customer's sheet (the export writes the answer there)."""
    position: int
    section: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    mandatory: bool = False
    owner_role: str
    milestone: str
    compliance: Compliance | None = Field(default=None, sa_column=Column(EnumText(Compliance)))
    answer: str | None = Field(default=None, sa_column=Column(Text))
    library_answer: str | None = None
    """The answer library entry used (its id), when the answer came from the library."""
    answered_by: str | None = None
    answered_at: datetime | None = None
    state: RequirementState = Field(
        default=RequirementState.OPEN,
        sa_column=Column(EnumText(RequirementState), nullable=False, server_default="open"),
    )
    owner: str | None = None
    """The person who answers it (e-mail): the bid's team member holding the section's role
    when imported, or whoever `bid rfp assign` named."""
    draft: str | None = Field(default=None, sa_column=Column(Text))
    """The draft answer its owner starts from (not yet the answer)."""
    draft_library: str | None = None
    draft_score: float | None = None
    compliance_confirmed: bool = True
    """False while the compliance is the library's, recorded without a person ("to review")."""
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = Field(default=None, sa_column=Column(Text))
    """Why the reviewer sent the answer back (the last rejection)."""


class LibraryAnswer(SQLModel, table=True):
    """An approved answer bid teams reuse (the answer library), shared by every bid."""

    id: int | None = Field(default=None, primary_key=True)
    answer_id: str = Field(index=True, unique=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    """What it answers: the requirement as customers usually ask it (matched on)."""
    answer: str = Field(sa_column=Column(Text, nullable=False))
    compliance: Compliance = Field(
        default=Compliance.COMPLY, sa_column=Column(EnumText(Compliance), nullable=False)
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    owner: str
    owner_role: str | None = None
    """The role that keeps this answer true (solution_consultant, legal, ...)."""
    last_reviewed: date
    review_months: int = 12
    updated_by: str
    updated_at: datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    area: Area = Field(sa_column=Column(EnumText(Area), nullable=False))
    round: int = 0
    """The opportunity's governance round this approval belongs to."""
    status: ApprovalStatus = Field(
        default=ApprovalStatus.REQUESTED,
        sa_column=Column(EnumText(ApprovalStatus), nullable=False),
    )
    deciding_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The roles that may decide this request, as the governance table named them when it
    was asked (`may_decide` reads them here, never from a decision record)."""
    summary_fingerprint: str | None = None
    """SHA-256 of the summary the approvers were shown (value, costs, margin, version): a
    Slack button carries it, so a click decides only the request it was shown for."""
    proposal_hash: str | None = None
    approver_id: int | None = Field(default=None, foreign_key="person.id")
    reason: str | None = None
    requested_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    version_id: int | None = Field(default=None, foreign_key="bidversion.id", index=True)
    """The bid version this approval was asked for (`BidVersion`)."""


class DecisionRecord(SQLModel, table=True):
    """One evaluation of a decision table that moved (or was meant to move) a bid."""

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    table_name: str
    rule_file: str
    rule_hash: str
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    matched_rows: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    evaluated_at: datetime = Field(default_factory=utcnow)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    human_outcome: str | None = None
    reason: str | None = None


class Milestone(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("opportunity_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    name: str
    due_at: datetime
    owner_role: str
    status: MilestoneStatus = Field(
        default=MilestoneStatus.OPEN, sa_column=Column(EnumText(MilestoneStatus), nullable=False)
    )
    completed_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only trail: who moved the bid, when, from where to where, and why."""

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    from_state: State | None = Field(default=None, sa_column=Column(EnumText(State)))
    to_state: State | None = Field(default=None, sa_column=Column(EnumText(State)))
    trigger: str
    reason: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, unique=True)


_UNSENT = text("sent_at IS NULL")
_UNSETTLED = text("settled_at IS NULL AND slack_ts IS NOT NULL")


class OutboxMessage(SQLModel, table=True):
    """A notification committed with the change that caused it; delivered after commit."""

    __table_args__ = (
        # every delivery looks for the unsent rows and the unsettled decision messages:
        # without these, each looked through every message ever sent (O(bids) a delivery)
        Index("ix_outboxmessage_unsent", "id", postgresql_where=_UNSENT, sqlite_where=_UNSENT),
        Index(
            "ix_outboxmessage_unsettled",
            "opportunity_id",
            postgresql_where=_UNSETTLED,
            sqlite_where=_UNSETTLED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    event: str
    recipient_email: str | None = None
    channel: str | None = None
    text: str
    blocks: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    slack_channel: str | None = None
    """Where Slack put the message (the DM's channel id), for updating it later."""
    slack_ts: str | None = None
    """The message's timestamp in that channel (Slack's id of a message)."""
    settled_at: datetime | None = None
    """When its buttons were replaced by who decided what (chat.update)."""


class Effect(SQLModel, table=True):
    """What a committed move asks to happen next (render, carry on), written in the move's
    own transaction and run after it by the dispatcher, with retries. The unique `key` makes
    a rerun queue nothing; the lease (`claimed_until`) lets one dispatcher run it at a time."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    kind: EffectKind = Field(sa_column=Column(EnumText(EffectKind), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: EffectStatus = Field(
        default=EffectStatus.PENDING,
        sa_column=Column(EnumText(EffectStatus), index=True, nullable=False),
    )
    attempts: int = 0
    last_error: str | None = None
    result: str | None = None
    next_attempt_at: datetime | None = Field(default_factory=utcnow)
    """When it is due (again); None once its retries are spent (`bid resume` retries it)."""
    claimed_until: datetime | None = None
    claimed_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class Document(SQLModel, table=True):
    """An artefact rendered for a bid (QRF, proposal, plan, order sheet), by content hash."""

    __table_args__ = (UniqueConstraint("opportunity_id", "kind", "name", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    kind: str
    name: str
    path: str
    content_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    version_id: int | None = Field(default=None, foreign_key="bidversion.id", index=True)
    """The bid version the file renders (the files sent to the customer are kept per version)."""


class BidVersion(SQLModel, table=True):
    """A frozen, numbered snapshot of a bid's priced deal: sites, the quotes with the site
    specification each priced, prices, answers, terms and deviations. A new version is
    recorded when that content changes (a design freeze, governance, a best-and-final offer,
    a change after submission, a MACD); a submitted version is never changed again.
    Built in `orchestrator/bid/trail/versions.py` only."""

    __table_args__ = (UniqueConstraint("opportunity_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    number: int
    reason: str
    """What made it: design_freeze, governance, submission, macd, documents, ..."""
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    content_hash: str
    """SHA-256 of `snapshot`: the same content is the same version."""
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    proposal_hash: str | None = None
    """The content hash of the proposal rendered from this version."""
    submitted_at: datetime | None = None
    """When this version went to the customer; its files are then kept as they were sent."""


class ChangeOrder(SQLModel, table=True):
    """A MACD (move, add, change, delete) on a contracted bid's services."""

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    site_id: str
    kind: str
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str
    at: datetime = Field(default_factory=utcnow)
    status: ChangeOrderStatus = Field(
        default=ChangeOrderStatus.APPLIED,
        sa_column=Column(EnumText(ChangeOrderStatus), nullable=False),
    )
    approval_id: int | None = Field(default=None, foreign_key="approval.id")
    """The financial approval a price-changing MACD waits for."""


class Task(SQLModel, table=True):
    """Work a bid needs from a person before it can move on (an order-sheet line to fix)."""

    __table_args__ = (UniqueConstraint("opportunity_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    kind: str
    key: str
    """What the task is about, unique on the bid (the problem it fixes): raised once."""
    text: str
    owner_role: str
    status: TaskStatus = Field(
        default=TaskStatus.OPEN, sa_column=Column(EnumText(TaskStatus), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class SlackDelivery(SQLModel, table=True):
    """An inbound Slack interaction already taken: Slack retries must not act twice,
    whichever `bid serve` process the retry reaches."""

    key: str = Field(primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class ForecastSnapshot(SQLModel, table=True):
    """A stored forecast, compared later with what happened."""

    id: int | None = Field(default=None, primary_key=True)
    taken_at: datetime = Field(default_factory=utcnow)
    period: str
    expected_revenue: float
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
