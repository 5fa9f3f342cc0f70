"""Looking bids up and reading the facts the guards and rules need; no changes here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from orchestrator.context import Context
from orchestrator.decisions.authority import ApprovalRequest, Decider, DutyFacts
from orchestrator.errors import (
    NotFound,
    TransitionRefused,
)
from orchestrator.lifecycle.table import State
from orchestrator.store.models import (
    Account,
    Approval,
    AuditEvent,
    DecisionRecord,
    DesignFreeze,
    Grant,
    Opportunity,
    Person,
    QuoteImport,
    Role,
    TeamMember,
    format_ref,
)

ORGANISATION_ROLES = frozenset({Role.MANAGEMENT, Role.FINANCE, Role.LEGAL})
"""Roles a person holds on every bid by their position, without being on its team."""

GO_NO_GO_TRIGGERS = {
    "bid": "decide_bid",
    "no_bid": "decide_no_bid",
    "redefine_strategy": "redefine_strategy",
}

_REF = re.compile(r"^(?:OPP-?)?0*([0-9]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class StepResult:
    """What one service call did to a bid."""

    ref: str
    from_state: State
    to_state: State
    message: str
    waiting_for: str | None = None
    documents: list[str] = field(default_factory=list)
    recorded: bool = True
    """False when the call changed nothing because the answer was already given."""

    @property
    def moved(self) -> bool:
        return self.from_state != self.to_state


def held_message(opportunity: Opportunity) -> str:
    """Why a bid on hold does not move, and how it moves again."""
    until = f" until {opportunity.hold_until.isoformat()}" if opportunity.hold_until else ""
    return (
        f"{opportunity.ref} is on hold{until} ({opportunity.hold_reason or 'no reason given'}): "
        f"bid resume {opportunity.ref} puts it back in {opportunity.state.value}"
    )


def refuse_when_held(opportunity: Opportunity) -> None:
    """A bid on hold keeps its state and moves nowhere (a withdrawal aside)."""
    if opportunity.held_at is not None:
        raise TransitionRefused(held_message(opportunity))


# --- lookups ---------------------------------------------------------------------------------


MAX_ID = 2**31 - 1
"""Ids are 32-bit integer columns (PostgreSQL `integer`); a larger number names nothing."""


def parse_ref(ref: str) -> int:
    match = _REF.match(ref.strip())
    if not match:
        raise NotFound(f"'{ref}' is not an opportunity id (expected OPP-0007 or 7)")
    number = int(match.group(1)[:12])  # more digits than any id: refused just below
    if len(match.group(1)) > 10 or number > MAX_ID:
        raise NotFound(f"no opportunity {ref.strip()}")
    return number


def get_opportunity(session: Session, ref: str | int, *, lock: bool = False) -> Opportunity:
    """The opportunity for `OPP-0007`, `7` or 7; `NotFound` when there is none.

    `lock` takes the row lock for a change (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), so two doors changing one bid queue.
    """
    opportunity_id = ref if isinstance(ref, int) else parse_ref(ref)
    if lock:  # read again under the lock, whatever this session already holds of it
        row = session.get(Opportunity, opportunity_id, with_for_update=True, populate_existing=True)
    else:
        row = session.get(Opportunity, opportunity_id)
    if row is None:
        raise NotFound(f"no opportunity {format_ref(opportunity_id)}")
    return row


def get_person(session: Session, email: str) -> Person:
    person = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None:
        raise NotFound(f"no person with e-mail {email}")
    return person


def team(session: Session, opportunity_id: int) -> list[tuple[str, Person]]:
    """(role, person) pairs of the bid team."""
    rows = session.exec(
        select(TeamMember, Person)
        .where(TeamMember.opportunity_id == opportunity_id)
        .where(TeamMember.person_id == Person.id)
        .order_by(col(TeamMember.id))
    ).all()
    return [(member.role, person) for member, person in rows]


def holds_role(
    session: Session, opportunity: Opportunity, person: Person, roles: list[str]
) -> bool:
    """True when the person holds one of `roles` on this bid.

    A role named in the bid's team counts on this bid only; management, finance and legal
    count on every bid only when an admin granted them to the person (`bid people grant`).
    """
    if opportunity.id is None:  # rows read from the database always have one
        raise ValueError("the opportunity is not stored")
    on_team = {role for role, member in team(session, opportunity.id) if member.id == person.id}
    organisation = {role for role in person.roles if role in ORGANISATION_ROLES}
    return bool((on_team | organisation) & set(roles))


# --- who may decide an approval (the facts `decisions.authority.may_decide` needs) -------------

SERVICE_ACTOR = "bid-service"
"""The service's own identity: what a run started from the Prefect UI's forms acts as
(whoever holds the folder's Prefect password). Automation, so it needs no role on a bid, but
with no admin's powers: it gives nobody a Slack user id, and the team it names carries no
approval power."""

CREATE_TRIGGER = "create"
PRICING_TRIGGERS = ("prices_changed",)
"""Audit triggers that set a bid's prices (besides importing its quotes)."""


def team_assigner(session: Session, opportunity: Opportunity) -> str | None:
    """Who assigned the bid's team roles: the actor of its creation (the team comes from
    the opportunity's file, or is copied by the renewal that opened the bid)."""
    return session.exec(
        select(AuditEvent.actor)
        .where(AuditEvent.opportunity_id == opportunity.id)
        .where(AuditEvent.trigger == CREATE_TRIGGER)
        .order_by(col(AuditEvent.id))
    ).first()


def vouched(session: Session, assigner: str | None, person: Person) -> bool:
    """A team role carries approval power when an admin (or the process's own automation,
    which no door lets a caller name) assigned it, and not to themselves."""
    if assigner is None or assigner.strip().lower() == person.email:
        return False
    if assigner == SERVICE_ACTOR:  # the Prefect UI's forms: anyone with its password
        return False
    if "@" not in assigner:  # in-process automation ("system", "prefect", "demo")
        return True
    by = session.exec(select(Person).where(Person.email == assigner.strip().lower())).first()
    return by is not None and Grant.ADMIN in by.roles


def decider_for(session: Session, opportunity: Opportunity, person: Person) -> Decider:
    """The person's approval powers on this bid: organisation grants, and team roles split
    into those an admin assigned and those the bid's creator merely named."""
    on_team = frozenset(
        role for role, member in team(session, opportunity.id or 0) if member.id == person.id
    )
    powered = vouched(session, team_assigner(session, opportunity), person)
    return Decider(
        email=person.email,
        grants=frozenset(person.roles),
        team_roles=on_team if powered else frozenset(),
        named_roles=frozenset() if powered else on_team,
    )


def approval_request(approval: Approval) -> ApprovalRequest:
    """The stored request as `may_decide` reads it."""
    return ApprovalRequest(
        id=approval.id or 0,
        area=approval.area,
        deciding_roles=tuple(approval.deciding_roles),
        round=approval.round,
        summary_fingerprint=approval.summary_fingerprint,
    )


def duty_facts(session: Session, opportunity: Opportunity, approval: Approval) -> DutyFacts:
    """What rules/duties.yaml looks at, from the bid's records: who froze its design, who
    priced it (imported its quotes or set its prices), who decided which area this round."""
    freeze = session.exec(
        select(DesignFreeze)
        .where(DesignFreeze.opportunity_id == opportunity.id)
        .order_by(col(DesignFreeze.id).desc())
    ).first()
    importers = session.exec(
        select(QuoteImport.actor).where(QuoteImport.opportunity_id == opportunity.id)
    ).all()
    setters = session.exec(
        select(AuditEvent.actor)
        .where(AuditEvent.opportunity_id == opportunity.id)
        .where(col(AuditEvent.trigger).in_(PRICING_TRIGGERS))
    ).all()
    decided: dict[str, set[str]] = {}
    for area, email in session.exec(
        select(Approval.area, Person.email)
        .where(Approval.opportunity_id == opportunity.id)
        .where(Approval.round == approval.round)
        .where(Approval.approver_id == Person.id)
        .where(col(Approval.id) != approval.id)
    ).all():
        decided.setdefault(email, set()).add(area)
    return DutyFacts(
        froze_design=frozenset({freeze.frozen_by} if freeze else set()),
        priced=frozenset(a.strip().lower() for a in [*importers, *setters]),
        decided_areas={email: frozenset(areas) for email, areas in decided.items()},
    )


def deciding_roles(session: Session, opportunity: Opportunity, area: str) -> list[str] | None:
    """The roles stored on the bid's latest request of `area` (None: never requested)."""
    latest = session.exec(
        select(Approval)
        .where(Approval.opportunity_id == opportunity.id)
        .where(Approval.area == area)
        .order_by(col(Approval.id).desc())
    ).first()
    return list(latest.deciding_roles) if latest is not None else None


def account_of(session: Session, opportunity: Opportunity) -> Account:
    account = session.get(Account, opportunity.account_id)
    if account is None:
        raise NotFound(f"{opportunity.ref} has no account")
    return account


# --- facts for guards and rules ---------------------------------------------------------------


def current_approvals(session: Session, opportunity: Opportunity) -> list[Approval]:
    """The approvals of the current governance round."""
    if opportunity.governance_round == 0:
        return []
    return list(
        session.exec(
            select(Approval)
            .where(Approval.opportunity_id == opportunity.id)
            .where(Approval.round == opportunity.governance_round)
            .order_by(col(Approval.id))
        ).all()
    )


def latest_decision(session: Session, opportunity_id: int, table: str) -> DecisionRecord | None:
    return session.exec(
        select(DecisionRecord)
        .where(DecisionRecord.opportunity_id == opportunity_id)
        .where(DecisionRecord.table_name == table)
        .order_by(col(DecisionRecord.id).desc())
    ).first()


def to_eur(ctx: Context, amount: float, currency: str) -> float:
    """Convert with the rates in rules/fx_rates.yaml (EUR passes through)."""
    if currency.upper() == "EUR":
        return amount
    from orchestrator.commercial.quotes import to_eur as convert

    return float(convert(ctx.settings.rules_dir, amount, currency))
