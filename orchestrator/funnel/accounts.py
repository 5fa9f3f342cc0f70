"""Reading accounts: one account with its group, trail, contracts and bids; the list.

The study's example (a contract won with one company of a holding opens the door to the
holding's other companies) is why `account_view` shows the whole group and which of its
companies have no contract yet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from orchestrator.errors import NotFound
from orchestrator.lifecycle.table import ENDS
from orchestrator.store.models import (
    Account,
    AccountEvent,
    Contract,
    Opportunity,
    Person,
    PortfolioSuggestion,
    SuggestionStatus,
    format_ref,
)
from orchestrator.text import fold_name


@dataclass(frozen=True)
class GroupCompany:
    name: str
    tier: str
    parent: str | None
    active_contracts: int
    depth: int


@dataclass(frozen=True)
class ContractLine:
    ref: str
    opportunity: str
    start_date: date
    end_date: date
    term_months: int
    currency: str
    monthly_recurring: float
    monthly_recurring_eur: float
    one_off: float
    services: list[str]
    sites: int
    renewal: str | None
    renews: str | None


@dataclass(frozen=True)
class AccountView:
    name: str
    tier: str
    country: str | None
    owner: str | None
    parent: str | None
    customer_profile: str | None
    purchasing_process: str | None
    external_influences: str | None
    service_level: str | None
    potential_revenue_eur: float | None
    competitor: str | None
    competitor_contract_end: date | None
    sleeping_until: date | None
    group: list[GroupCompany]
    """The whole group (holding and every company under it), top down."""
    openings: list[str]
    """Group companies without an active contract while another company has one."""
    contracts: list[ContractLine]
    bids: list[dict[str, Any]]
    tier_history: list[dict[str, Any]]
    trail: list[dict[str, Any]]
    open_suggestions: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find(session: Session, name: str) -> Account:
    account = session.exec(select(Account).where(Account.name_key == fold_name(name))).first()
    if account is None:
        raise NotFound(f"no account '{name}' (bid account list)", field="account")
    return account


def _active_contracts(session: Session, today: date) -> dict[int, int]:
    return dict(
        session.exec(
            select(Contract.account_id, func.count(col(Contract.id)))
            .where(col(Contract.start_date) <= today, col(Contract.end_date) >= today)
            .group_by(col(Contract.account_id))
        ).all()
    )


def _group(session: Session, account: Account, active: dict[int, int]) -> list[GroupCompany]:
    rows = session.exec(select(Account.id, Account.name, Account.tier, Account.parent_id)).all()
    parent_of = {r[0]: r[3] for r in rows}
    info = {r[0]: r for r in rows}
    root, seen = account.id, set()
    while parent_of.get(root) is not None and root not in seen:
        seen.add(root)
        root = parent_of[root]
    children: dict[int | None, list[int]] = {}
    for account_id, parent_id in parent_of.items():
        if account_id is not None:
            children.setdefault(parent_id, []).append(account_id)
    group: list[GroupCompany] = []
    stack: list[tuple[int | None, int]] = [(root, 0)]
    visited: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        _, name, tier, parent_id = info[node]
        parent = info[parent_id][1] if parent_id is not None else None
        group.append(GroupCompany(name, tier, parent, active.get(node, 0), depth))
        for child in sorted(children.get(node, []), key=lambda i: info[i][1], reverse=True):
            stack.append((child, depth + 1))
    return group


def account_view(session: Session, name: str, today: date) -> AccountView:
    """What `bid account show` prints."""
    account = find(session, name)
    active = _active_contracts(session, today)
    group = _group(session, account, active)
    with_contract = any(c.active_contracts for c in group)
    openings = [c.name for c in group if with_contract and not c.active_contracts]
    emails = dict(session.exec(select(Person.id, Person.email)).all())
    parent = session.get(Account, account.parent_id) if account.parent_id else None
    contracts = session.exec(
        select(Contract).where(Contract.account_id == account.id).order_by(col(Contract.start_date))
    ).all()
    by_id = {c.id: c for c in contracts}
    events = session.exec(
        select(AccountEvent)
        .where(AccountEvent.account_id == account.id)
        .order_by(col(AccountEvent.at), col(AccountEvent.id))
    ).all()
    trail = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "from_tier": e.from_tier,
            "to_tier": e.to_tier,
            "reason": e.reason,
            "details": dict(e.details),
        }
        for e in events
    ]
    bids = session.exec(
        select(Opportunity)
        .where(Opportunity.account_id == account.id)
        .order_by(col(Opportunity.id))
    ).all()
    suggestions = session.exec(
        select(PortfolioSuggestion)
        .where(PortfolioSuggestion.account_id == account.id)
        .where(PortfolioSuggestion.status == SuggestionStatus.OPEN)
    ).all()
    return AccountView(
        name=account.name,
        tier=account.tier,
        country=account.country,
        owner=emails.get(account.owner_id) if account.owner_id else None,
        parent=parent.name if parent else None,
        customer_profile=account.customer_profile,
        purchasing_process=account.purchasing_process,
        external_influences=account.external_influences,
        service_level=account.service_level,
        potential_revenue_eur=account.potential_revenue_eur,
        competitor=account.competitor,
        competitor_contract_end=account.competitor_contract_end,
        sleeping_until=account.sleeping_until,
        group=group,
        openings=openings,
        contracts=[
            ContractLine(
                ref=c.ref,
                opportunity=format_ref(c.opportunity_id),
                start_date=c.start_date,
                end_date=c.end_date,
                term_months=c.term_months,
                currency=c.currency,
                monthly_recurring=c.monthly_recurring,
                monthly_recurring_eur=c.monthly_recurring_eur,
                one_off=c.one_off,
                services=list(c.services),
                sites=len(c.site_ids),
                renewal=format_ref(c.renewal_opportunity_id) if c.renewal_opportunity_id else None,
                renews=by_id[c.renews_contract_id].ref if c.renews_contract_id in by_id else None,
            )
            for c in contracts
        ],
        bids=[
            {
                "id": b.ref,
                "title": b.title,
                "state": b.state.value,
                "source": b.source,
                "incumbent": b.incumbent,
                "submission_deadline": b.submission_deadline.isoformat(),
            }
            for b in bids
        ],
        tier_history=[
            t for t in trail if t["to_tier"] and t["action"] in ("created", "tier_changed")
        ],
        trail=trail,
        open_suggestions=[
            {
                "id": s.id,
                "rule": s.rule_id,
                "from_tier": s.from_tier,
                "to_tier": s.to_tier,
                "reason": s.reason,
            }
            for s in suggestions
        ],
    )


def list_accounts(session: Session, today: date, tier: str | None = None) -> list[dict[str, Any]]:
    """Every account (of one tier), by name: tier, country, owner, group, bids, contracts."""
    active = _active_contracts(session, today)
    open_bids = dict(
        session.exec(
            select(Opportunity.account_id, func.count(col(Opportunity.id)))
            .where(col(Opportunity.state).not_in([s.value for s in ENDS]))
            .group_by(col(Opportunity.account_id))
        ).all()
    )
    emails = dict(session.exec(select(Person.id, Person.email)).all())
    rows = session.exec(select(Account).order_by(col(Account.name))).all()
    names = {a.id: a.name for a in rows}
    return [
        {
            "name": a.name,
            "tier": a.tier,
            "country": a.country,
            "owner": emails.get(a.owner_id) if a.owner_id else None,
            "parent": names.get(a.parent_id) if a.parent_id else None,
            "open_bids": open_bids.get(a.id or 0, 0),
            "active_contracts": active.get(a.id or 0, 0),
            "sleeping_until": a.sleeping_until.isoformat() if a.sleeping_until else None,
        }
        for a in rows
        if tier is None or a.tier == tier
    ]
