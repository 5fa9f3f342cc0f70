"""Bringing bids in: a new opportunity from its YAML, its sites from CSV, the people on it."""

from __future__ import annotations

from sqlmodel import Session, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.recording import audit, audit_creation
from orchestrator.context import Context
from orchestrator.errors import TransitionRefused
from orchestrator.intake.opportunity import OpportunitySpec, PersonSpec, SiteSpec
from orchestrator.lifecycle.table import State
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Account,
    Opportunity,
    Person,
    Role,
    Site,
    TeamMember,
)

SITES_OPEN_IN = frozenset(
    {State.PRE_QUALIFICATION, State.QUALIFICATION, State.STRATEGY_REWORK, State.KICK_OFF,
     State.BID_PRODUCTION}
)  # fmt: skip
"""Steps in which a bid's sites may still be imported."""

LEAD_ROLE_BY_TIER = {"top": Role.BID_MANAGER, "major": Role.ACCOUNT_MANAGER}


def upsert_person(session: Session, spec: PersonSpec, role: str | None = None) -> Person:
    """The person with this e-mail, created when new; gains `role` if given."""
    email = spec.email.strip().lower()
    person = session.exec(select(Person).where(Person.email == email)).first()
    if person is None:
        person = Person(
            email=email,
            name=spec.name or email.split("@")[0].replace(".", " ").title(),
            slack_user_id=spec.slack_user_id,
            roles=[],
        )
    if spec.name:
        person.name = spec.name
    if spec.slack_user_id:
        person.slack_user_id = spec.slack_user_id
    if role and role not in person.roles:
        person.roles = [*person.roles, role]
    session.add(person)
    session.flush()
    return person


def create_opportunity(ctx: Context, spec: OpportunitySpec, actor: str = "cli") -> str:
    """Store a new opportunity in pre-qualification, with its team; return its id (OPP-0001)."""
    with transaction(ctx.engine) as session:
        account = session.exec(select(Account).where(Account.name == spec.account.name)).first()
        if account is None:
            account = Account(name=spec.account.name, tier=spec.account.tier.value)
        else:
            account.tier = spec.account.tier.value
        session.add(account)
        session.flush()
        people = {
            role: upsert_person(session, p, role.value) for role, p in spec.team_people().items()
        }
        lead = LEAD_ROLE_BY_TIER.get(spec.account.tier.value, Role.SALES_SUPPORT)
        owner = people.get(Role.ACCOUNT_MANAGER) or people.get(lead)
        now = ctx.clock()
        opportunity = Opportunity(
            account_id=account.id or 0,
            title=spec.title,
            source=spec.source.value,
            rfp_reference=spec.rfp_reference,
            received_at=now,
            submission_deadline=spec.submission_deadline,
            decision_date=spec.decision_date,
            revenue_short_term=spec.estimated_revenue.short_term,
            revenue_medium_term=spec.estimated_revenue.medium_term,
            revenue_long_term=spec.estimated_revenue.long_term,
            currency=spec.currency,
            owner_id=owner.id if owner else None,
            strategy=spec.strategy,
            strategic_fit=spec.strategic_fit,
            incumbent=spec.incumbent,
            services=[s.value for s in spec.services],
            bants=spec.bants.model_dump() if spec.bants else {},
            pricing=spec.pricing or {},
            state=State.PRE_QUALIFICATION,
            created_at=now,
            updated_at=now,
        )
        session.add(opportunity)
        session.flush()
        for role, person in people.items():
            session.add(
                TeamMember(opportunity_id=opportunity.id or 0, person_id=person.id or 0, role=role)
            )
        audit_creation(
            session,
            ctx,
            opportunity,
            actor=actor,
            inputs={"source": spec.source.value, "rfp_reference": spec.rfp_reference},
        )
        return opportunity.ref


def import_sites(ctx: Context, ref: str, sites: list[SiteSpec], actor: str = "cli") -> int:
    """Add validated sites to a bid up to bid production; all or nothing."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        # Sites shape the proposal: once it is under governance review, the approvers' version
        # must not change beneath them.
        if opportunity.state not in SITES_OPEN_IN:
            raise TransitionRefused(
                f"{opportunity.ref} is in {opportunity.state}: sites can no longer be imported "
                "(a governance rejection reopens bid production; on a contracted bid, use bid macd)"
            )
        for site in sites:
            session.add(
                Site(
                    opportunity_id=opportunity.id or 0,
                    site_id=site.site_id,
                    name=site.name,
                    street=site.street,
                    postcode=site.postcode,
                    city=site.city,
                    country=site.country,
                    bandwidth_mbps=site.bandwidth_mbps,
                    access=site.access,
                    service=site.service,
                )
            )
        audit(
            session, ctx, opportunity, "sites_imported", actor=actor, inputs={"count": len(sites)}
        )
        return len(sites)


def existing_site_ids(ctx: Context, ref: str) -> list[str]:
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return list(
            session.exec(select(Site.site_id).where(Site.opportunity_id == opportunity.id)).all()
        )
