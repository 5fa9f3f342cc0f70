"""Contracts and renewals: a signed bid becomes a contract; a contract nearing its end opens
its renewal opportunity.

- **Contract** (`record_contract`, on entering `contracted`, in the signing transaction):
  the services and ordered sites, the monthly recurring and one-off charges of the priced
  deal (`deal.py`) in the bid's currency and in EUR at the bid's recorded rate, the start
  (the agreed contract start of `bid order details --contract-start`, else the signing
  day), the term (`Opportunity.contract_months`) and the last day of the term. A contract
  start agreed after signing moves the contract's dates (`move_contract_start`): its
  revenue months, the order intake and the renewal date follow it.
  A renewal bid's contract names the contract it renews.
- **Renewal scan** (`scan_renewals`, daily as a flow, or `bid renewals scan`): every contract
  whose end falls within `renewals.horizon_days` (rules/portfolio.yaml) and that has no
  renewal yet opens one opportunity — source `renewal`, incumbent, the same account, team,
  services, sites, pricing and term — with its renewal milestones counted back from the
  contract's end, and tells its account managers. The same scan wakes sleeping accounts
  whose date has come (`accounts.wake_due_accounts`). Each renewal is opened once: the
  contract row keeps its renewal's id, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from orchestrator.bid.customers.accounts import Woken, wake_due_accounts
from orchestrator.bid.facts import account_of, team
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.team.people import require_grant
from orchestrator.bid.trail.recording import audit_creation, routing_for
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.decisions.portfolio_rules import PortfolioRules, load_portfolio_rules
from orchestrator.lifecycle.table import State
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Contract,
    Grant,
    Milestone,
    Opportunity,
    Role,
    Site,
    Source,
    TeamMember,
    format_ref,
)

MILESTONE_HOUR = time(17, 0, tzinfo=UTC)
_SITE_FIELDS = (
    "site_id",
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "bandwidth_mbps",
    "access",
    "service",
    "ordered",
)


def end_of_term(start: date, months: int) -> date:
    """The last day of a term of `months` starting on `start` (2027-01-15, 36 → 2030-01-14)."""
    return start + relativedelta(months=months) - timedelta(days=1)


def record_contract(
    session: Session, ctx: Context, opportunity: Opportunity, actor: str
) -> Contract:
    """The signed bid as a contract, in the caller's (signing) transaction; once per bid."""
    existing = session.exec(
        select(Contract).where(Contract.opportunity_id == opportunity.id)
    ).first()
    if existing is not None:
        return existing
    deal = load_deal(session, ctx, opportunity)
    priced, fx = deal.priced, deal.priced.fx
    start = opportunity.contract_start or ctx.clock().date()
    renewed = session.exec(
        select(Contract).where(Contract.renewal_opportunity_id == opportunity.id)
    ).first()
    services = sorted(
        {*opportunity.services, *(line.service for line in priced.lines if line.priced)}
    )
    contract = Contract(
        account_id=opportunity.account_id,
        opportunity_id=opportunity.id or 0,
        renews_contract_id=renewed.id if renewed else None,
        services=services,
        site_ids=[line.site_id for line in priced.lines if line.site_id is not None],
        currency=fx.currency,
        monthly_recurring=fx.from_eur(priced.monthly_eur),
        one_off=fx.from_eur(priced.one_off_eur),
        monthly_recurring_eur=priced.monthly_eur,
        one_off_eur=priced.one_off_eur,
        start_date=start,
        end_date=end_of_term(start, opportunity.contract_months),
        term_months=opportunity.contract_months,
        signed_at=ctx.clock(),
    )
    session.add(contract)
    session.flush()
    return contract


def refresh_contract_value(
    session: Session, ctx: Context, opportunity: Opportunity
) -> tuple[float, float] | None:
    """A MACD applied to a signed bid: the contract's value, services and sites follow the
    deal as it now is (the start, the term and the signing stay). Returns the monthly
    recurring charge before and after, in the bid's currency (None: no contract)."""
    contract = session.exec(
        select(Contract).where(Contract.opportunity_id == opportunity.id)
    ).first()
    if contract is None:
        return None
    session.flush()
    deal = load_deal(session, ctx, opportunity)
    priced, fx = deal.priced, deal.priced.fx
    before = contract.monthly_recurring
    contract.monthly_recurring = fx.from_eur(priced.monthly_eur)
    contract.one_off = fx.from_eur(priced.one_off_eur)
    contract.monthly_recurring_eur = priced.monthly_eur
    contract.one_off_eur = priced.one_off_eur
    contract.site_ids = [line.site_id for line in priced.lines if line.site_id is not None]
    contract.services = sorted(
        {*opportunity.services, *(line.service for line in priced.lines if line.priced)}
    )
    session.add(contract)
    return before, contract.monthly_recurring


# --- renewals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Renewal:
    contract: str
    account: str
    opportunity: str
    end_date: date
    submission_deadline: date


@dataclass(frozen=True)
class RenewalScan:
    opened: list[Renewal] = field(default_factory=list)
    woken: list[Woken] = field(default_factory=list)


def _split_revenue(monthly: float, months: int) -> tuple[float, float, float]:
    """The renewed term's revenue as the bid's estimates: its first year (short term), its
    second year (medium term), the rest (long term)."""
    first = min(months, 12)
    second = min(max(months - 12, 0), 12)
    rest = max(months - 24, 0)
    return round(monthly * first, 2), round(monthly * second, 2), round(monthly * rest, 2)


def _renewal_dates(contract: Contract, rules: PortfolioRules, today: date) -> tuple[date, date]:
    renewals = rules.renewals
    submit = max(
        contract.end_date - timedelta(days=renewals.submission_days_before_end),
        today + timedelta(days=renewals.min_days_to_submit),
    )
    decide = max(contract.end_date - timedelta(days=renewals.decision_days_before_end), submit)
    return submit, decide


def _open_renewal(
    session: Session, ctx: Context, contract: Contract, rules: PortfolioRules, actor: str
) -> Renewal:
    original = session.get(Opportunity, contract.opportunity_id)
    if original is None:  # a foreign key guarantees it
        raise ValueError(f"{contract.ref} names no opportunity")
    now = ctx.clock()
    today = now.date()
    submit, decide = _renewal_dates(contract, rules, today)
    short, medium, long = _split_revenue(contract.monthly_recurring, contract.term_months)
    catalogue = catalogue_for(ctx.settings.rules_dir)
    rate = catalogue.fx.rates.get(contract.currency, original.fx_rate)
    renewal = Opportunity(
        account_id=contract.account_id,
        title=f"Renewal of {contract.ref}: {original.title}"[:300],
        source=Source.RENEWAL.value,
        received_at=now,
        submission_deadline=submit,
        decision_date=decide,
        revenue_short_term=short,
        revenue_medium_term=medium,
        revenue_long_term=long,
        currency=contract.currency,
        fx_rate=rate,
        fx_as_of=catalogue.fx.as_of,
        contract_months=contract.term_months,
        deviations=list(original.deviations),
        owner_id=original.owner_id,
        strategic_fit=original.strategic_fit,
        incumbent=True,
        services=list(contract.services),
        bants=dict(original.bants),
        pricing=dict(original.pricing),
        state=State.PRE_QUALIFICATION,
        created_at=now,
        updated_at=now,
    )
    session.add(renewal)
    session.flush()
    members = team(session, original.id or 0)
    for role, person in members:
        session.add(TeamMember(opportunity_id=renewal.id or 0, person_id=person.id or 0, role=role))
    wanted = set(contract.site_ids)
    for site in session.exec(select(Site).where(Site.opportunity_id == original.id)).all():
        if site.site_id in wanted:
            values = {name: getattr(site, name) for name in _SITE_FIELDS}
            session.add(Site(opportunity_id=renewal.id or 0, **values))
    contract.renewal_opportunity_id = renewal.id
    session.add(contract)
    audit_creation(
        session,
        ctx,
        renewal,
        actor=actor,
        inputs={
            "source": Source.RENEWAL.value,
            "renews": contract.ref,
            "renews_opportunity": original.ref,
            "contract_end": contract.end_date.isoformat(),
            "incumbent": True,
        },
    )
    roles = {role for role, _ in members}
    lead = str(
        routing_for(ctx, account_of(session, renewal).tier, State.PRE_QUALIFICATION)["lead_role"]
    )
    for item in rules.renewals.milestones:
        due = datetime.combine(
            contract.end_date - timedelta(days=item.days_before_end), MILESTONE_HOUR
        )
        session.add(
            Milestone(
                opportunity_id=renewal.id or 0,
                name=item.name,
                due_at=max(due, now + timedelta(days=1)),
                owner_role=item.owner_role if item.owner_role in roles else lead,
            )
        )
    account = account_of(session, renewal)
    text = ctx.messages.render(
        "renewal_opened",
        ref=renewal.ref,
        account=account.name,
        contract=contract.ref,
        end_date=contract.end_date.isoformat(),
        monthly=f"{contract.monthly_recurring:,.2f}",
        currency=contract.currency,
        submission_deadline=submit.isoformat(),
    )
    told = {p.email for role, p in members if role in (Role.ACCOUNT_MANAGER, lead)}
    for email in sorted(told):
        outbox.enqueue(
            session,
            key=f"renewal:{contract.id}:{renewal.id}:{email}",
            event="renewal_opened",
            text=text,
            opportunity_id=renewal.id,
            recipient_email=email,
        )
    return Renewal(contract.ref, account.name, renewal.ref, contract.end_date, submit)


def due_for_renewal(session: Session, today: date, horizon_days: int) -> list[Contract]:
    """Contracts ending within the horizon (not yet ended) with no renewal opened or signed."""
    renewed = select(Contract.renews_contract_id).where(
        col(Contract.renews_contract_id).is_not(None)
    )
    return list(
        session.exec(
            select(Contract)
            .where(col(Contract.end_date) >= today)
            .where(col(Contract.end_date) <= today + timedelta(days=horizon_days))
            .where(col(Contract.renewal_opportunity_id).is_(None))
            .where(col(Contract.id).not_in(renewed))
            .order_by(col(Contract.end_date), col(Contract.id))
        ).all()
    )


def scan_renewals(ctx: Context, actor: str = "rules") -> RenewalScan:
    """Open the renewals now due and wake the sleeping accounts whose date has come; run by
    the schedule (its flow), management or an admin (`actor`)."""
    rules = load_portfolio_rules(ctx.settings.rules_dir)
    result = RenewalScan()
    with transaction(ctx.engine) as session:
        require_grant(session, actor, [Grant.MANAGEMENT], "run the renewal scan")
        for contract in due_for_renewal(session, ctx.clock().date(), rules.renewals.horizon_days):
            result.opened.append(_open_renewal(session, ctx, contract, rules, actor))
        result.woken.extend(wake_due_accounts(session, ctx))
    return result


def move_contract_start(session: Session, opportunity: Opportunity, start: date) -> bool:
    """A signed bid's contract starts on the agreed day: its start and end move (in the
    caller's transaction). False when the bid has no contract yet (signing will use it)."""
    contract = contract_of(session, opportunity.id or 0)
    if contract is None:
        return False
    contract.start_date = start
    contract.end_date = end_of_term(start, contract.term_months)
    session.add(contract)
    return True


def contract_of(session: Session, opportunity_id: int) -> Contract | None:
    return session.exec(select(Contract).where(Contract.opportunity_id == opportunity_id)).first()


def renewal_ref(contract: Contract) -> str | None:
    return format_ref(contract.renewal_opportunity_id) if contract.renewal_opportunity_id else None
