"""Bringing bids in: a new opportunity from its YAML, its sites from CSV, the people on it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, select

from orchestrator.bid.customers.accounts import (
    find_account,
    record_account_created,
    record_account_event,
)
from orchestrator.bid.facts import SERVICE_ACTOR, get_opportunity, get_person
from orchestrator.bid.measures.intake_tasks import SITE_EXCEPTION, open_exception_tasks
from orchestrator.bid.opportunity.offer import check_offer_fields
from orchestrator.bid.producing.changes import Change, apply_change, check_allowed
from orchestrator.bid.team.people import (
    check_actor,
    is_admin,
    is_system_actor,
    record_person_created,
)
from orchestrator.bid.trail.recording import audit, audit_creation, refusals_kept
from orchestrator.commercial.orders import next_order_line
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.intake.findings import Finding
from orchestrator.intake.limits import sites_within
from orchestrator.intake.opportunity import OpportunitySpec, PersonSpec, SiteSpec
from orchestrator.lifecycle.table import State
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import (
    Account,
    Opportunity,
    Person,
    Role,
    Site,
    TeamMember,
)

LEAD_ROLE_BY_TIER = {
    "top": Role.BID_MANAGER,
    "major": Role.ACCOUNT_MANAGER,
    "middle_market": Role.ACCOUNT_MANAGER,
    "direct": Role.SALES_SUPPORT,
}


def team_person(
    session: Session,
    ctx: Context,
    spec: OpportunitySpec,
    role: Role,
    named: PersonSpec,
    *,
    creator: Person | None,
    actor: str,
) -> Person:
    """The person a team list names: an existing one as they are, or a new one.

    An opportunity never alters an existing person: a name or Slack user id that differs
    from what is stored is refused (an admin changes people with `bid people set`). Only an
    admin (or the process's own automation) may give a new person a Slack user id, since
    Slack clicks are mapped to people by it.
    """
    email = named.email.strip().lower()
    person = session.exec(select(Person).where(Person.email == email)).first()
    if person is not None:
        if named.slack_user_id and named.slack_user_id != person.slack_user_id:
            stored = person.slack_user_id or "none"
            raise InputError(
                f"{email} already exists with Slack user id {stored}; an opportunity never "
                "changes a person (an admin runs bid people set)",
                **spec.where("team", role.value, "slack_user_id"),
            )
        if named.name and named.name != person.name:
            raise InputError(
                f"{email} already exists as '{person.name}'; an opportunity never changes a "
                "person (an admin runs bid people set)",
                **spec.where("team", role.value, "name"),
            )
        return person
    if named.slack_user_id:
        if actor == SERVICE_ACTOR or (creator is not None and not is_admin(creator)):
            raise InputError(
                "only an admin sets a person's Slack user id (bid people add EMAIL "
                "--slack-user-id ...)",
                **spec.where("team", role.value, "slack_user_id"),
            )
        holder = session.exec(
            select(Person).where(Person.slack_user_id == named.slack_user_id)
        ).first()
        if holder is not None:
            raise InputError(
                f"Slack user {named.slack_user_id} is already {holder.email}'s",
                **spec.where("team", role.value, "slack_user_id"),
            )
    person = Person(
        email=email,
        name=named.name or email.split("@")[0].replace(".", " ").title(),
        slack_user_id=named.slack_user_id,
        roles=[],
    )
    session.add(person)
    session.flush()
    record_person_created(
        session, ctx, actor, person, f"{spec.where()['file'] or 'opportunity'} ({role.value})"
    )
    return person


def create_opportunity(ctx: Context, spec: OpportunitySpec, actor: str = "cli") -> str:
    """Store a new opportunity in pre-qualification, with its team; return its id (OPP-0001).

    The team's roles hold on this bid only; no one gains an organisation role from it.
    """
    return open_opportunity(ctx, spec, actor).ref


@dataclass(frozen=True)
class Created:
    """A new bid, and what the user should know about it (the account kept its tier)."""

    ref: str
    notes: tuple[str, ...] = ()


def _check_reference(session: Session, spec: OpportunitySpec) -> None:
    """An RFP reference names one bid: importing the same RFP twice is refused."""
    reference = (spec.rfp_reference or "").strip()
    if not reference:
        return
    other = session.exec(
        select(Opportunity).where(
            func.lower(func.trim(Opportunity.rfp_reference)) == reference.lower()
        )
    ).first()
    if other is not None:
        raise InputError(
            f"RFP reference '{reference}' is already {other.ref} ({other.title}); an RFP is "
            "imported once (an addendum: bid opportunity update --addendum)",
            **spec.where("rfp_reference"),
        )


def _checked_profile(ctx: Context, spec: OpportunitySpec) -> dict[str, str]:
    """The account's country and segment from the file, the segment values checked against
    rules/portfolio.yaml (a wrong one names the file, line and field)."""
    from orchestrator.decisions.portfolio_rules import SEGMENT_FIELDS, load_portfolio_rules

    profile = spec.account.profile()
    if any(name in profile for name in SEGMENT_FIELDS):
        allowed = load_portfolio_rules(ctx.settings.rules_dir).segments
        for name in SEGMENT_FIELDS:
            if name in profile and profile[name] not in allowed[name]:
                raise InputError(
                    f"unknown value '{profile[name]}'; rules/portfolio.yaml allows "
                    f"{', '.join(allowed[name])}",
                    **spec.where("account", name),
                )
    return profile


def _complete_profile(
    session: Session,
    ctx: Context,
    account: Account,
    profile: dict[str, str],
    actor: str,
    title: str,
) -> list[str]:
    """An existing account takes the country and segment the file gives where it has none
    (on its trail); one it has already is kept, and the door says so."""
    filled: dict[str, str] = {}
    notes: list[str] = []
    for name, value in profile.items():
        held = getattr(account, name)
        if held is None:
            setattr(account, name, value)
            filled[name] = value
        elif held != value:
            notes.append(
                f"{account.name} keeps its {name} {held} (the file says {value}); "
                "bid account import changes it"
            )
    if filled:
        session.add(account)
        record_account_event(
            session,
            ctx,
            account,
            "updated",
            actor=actor,
            details={"from": f"opportunity {title}", **filled},
        )
    return notes


def country_from_sites(
    session: Session, ctx: Context, opportunity: Opportunity, actor: str
) -> str | None:
    """An account that has no country takes the country of most of its bid's sites (ties:
    the first in alphabetical order), on its trail: the monthly review splits by it."""
    account = session.get(Account, opportunity.account_id)
    if account is None or account.country is not None:
        return None
    counts = session.exec(
        select(Site.country, func.count())
        .where(Site.opportunity_id == opportunity.id, Site.ordered == True)  # noqa: E712
        .group_by(Site.country)
    ).all()
    if not counts:
        return None
    country = sorted(counts, key=lambda row: (-int(row[1]), row[0]))[0][0]
    account.country = country
    session.add(account)
    record_account_event(
        session,
        ctx,
        account,
        "updated",
        actor=actor,
        details={
            "from": f"the sites of {opportunity.ref} (most are in {country})",
            "country": country,
        },
    )
    return str(country)


def open_opportunity(ctx: Context, spec: OpportunitySpec, actor: str = "cli") -> Created:
    """`create_opportunity`, with the notes the door shows (an existing account's tier is
    never changed by a new bid: `bid account set-tier` changes it)."""

    check_offer_fields(ctx, spec)
    if spec.currency not in catalogue_for(ctx.settings.rules_dir).fx.rates:
        raise InputError(
            f"'{spec.currency}' has no exchange rate in rules/fx_rates.yaml",
            **spec.where("currency"),
        )
    with transaction(ctx.engine) as session:
        creator = None if is_system_actor(actor) else get_person(session, actor)
        _check_reference(session, spec)
        account = find_account(session, spec.account.name)
        notes: list[str] = []
        profile = _checked_profile(ctx, spec)
        if account is None:  # a new account takes the file's tier, on the account's trail
            account = Account(name=spec.account.name, tier=spec.account.tier.value)
            for name, value in profile.items():
                setattr(account, name, value)
            session.add(account)
            session.flush()
            record_account_created(session, ctx, account, actor, f"opportunity {spec.title}")
            if profile:
                record_account_event(
                    session,
                    ctx,
                    account,
                    "imported",
                    actor=actor,
                    details={"from": f"opportunity {spec.title}", **profile},
                )
        else:
            notes += _complete_profile(session, ctx, account, profile, actor, spec.title)
        if account.tier != spec.account.tier.value:
            # an existing account keeps its tier: bid account set-tier changes it, audited
            notes.append(
                f"{account.name} stays a {account.tier} account (the file says "
                f"{spec.account.tier.value}); bid account set-tier changes an account's tier"
            )
        people = {
            role: team_person(session, ctx, spec, role, p, creator=creator, actor=actor)
            for role, p in spec.team_people().items()
        }
        lead = LEAD_ROLE_BY_TIER.get(account.tier, Role.SALES_SUPPORT)
        owner = people.get(Role.ACCOUNT_MANAGER) or people.get(lead)
        now = ctx.clock()
        catalogue = catalogue_for(ctx.settings.rules_dir)
        rate = catalogue.fx.rates.get(spec.currency)
        if rate is None:
            raise InputError(
                f"'{spec.currency}' has no exchange rate in rules/fx_rates.yaml", field="currency"
            )
        months = (
            spec.contract_months
            or (spec.pricing or {}).get("contract_months")
            or catalogue.prices.contract_months
        )
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
            fx_rate=rate,
            fx_as_of=catalogue.fx.as_of,
            contract_months=int(months),
            deviations=[d for d in spec.deviations if d.strip()],
            owner_id=owner.id if owner else None,
            strategy=spec.strategy,
            service_strategy=spec.service_strategy,
            win_themes=[t for t in spec.win_themes if t.strip()],
            legal_entity=spec.order.legal_entity if spec.order else None,
            billing_entity=spec.order.billing_entity if spec.order else None,
            purchase_order=spec.order.purchase_order if spec.order else None,
            contract_start=spec.order.contract_start if spec.order else None,
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
            inputs={
                "source": spec.source.value,
                "rfp_reference": spec.rfp_reference,
                "currency": spec.currency,
                "fx_rate_eur": rate,
                "fx_as_of": catalogue.fx.as_of,
                "contract_months": int(months),
                "account_tier": account.tier,
                **(
                    {"tier_in_file_ignored": spec.account.tier.value}
                    if spec.account.tier.value != account.tier
                    else {}
                ),
                "notes": notes,
            },
        )
        return Created(opportunity.ref, tuple(notes))


def site_values(opportunity_id: int, site: SiteSpec, order_line: int) -> dict[str, Any]:
    """The stored columns of a validated site, with its order-line id for life."""
    return {
        "opportunity_id": opportunity_id,
        "site_id": site.site_id,
        "name": site.name,
        "street": site.street,
        "postcode": site.postcode,
        "city": site.city,
        "country": site.country,
        "bandwidth_mbps": site.bandwidth_mbps,
        "access": site.access,
        "service": site.service,
        "ordered": True,
        "order_line": order_line,
        "contact_name": site.contact_name,
        "contact_phone": site.contact_phone,
        "contact_email": site.contact_email,
        "requested_install_date": site.requested_install_date,
        "sla_class": site.sla_class,
        "interface": site.interface,
        "resilience": site.resilience,
    }


def site_row_of(opportunity: Opportunity, site: SiteSpec, order_line: int) -> Site:
    """The stored site of a validated one, with its order-line id for life."""
    return Site(**site_values(opportunity.id or 0, site, order_line))


def import_sites(
    ctx: Context,
    ref: str,
    sites: list[SiteSpec],
    actor: str = "cli",
    warnings: list[str] | tuple[str, ...] = (),
    exceptions: Sequence[Finding] = (),
) -> int:
    """Add validated sites to a bid; all or nothing. rules/changes.yaml decides whether sites
    may still change in the bid's phase (until bid production; a frozen design reopens).
    The intake's warnings (a country whose postcode format nobody knows) are kept with the
    import's audit event; its exceptions become design tasks (`bid.design`)."""
    with refusals_kept(ctx, ref, "sites_import", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        check_allowed(ctx, opportunity, "sites")
        held = session.exec(
            select(func.count()).select_from(Site).where(Site.opportunity_id == opportunity.id)
        ).one()
        sites_within(int(held) + len(sites))
        line = next_order_line(session, opportunity.id or 0)
        # one multi-row INSERT: thousands of sites per file, and no ORM object is needed
        session.execute(
            insert(Site),
            [
                site_values(opportunity.id or 0, site, line + number)
                for number, site in enumerate(sites)
            ],
        )
        session.flush()
        country_from_sites(session, ctx, opportunity, actor)
        digest = hashlib.sha256(",".join(s.site_id for s in sites).encode()).hexdigest()
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind="sites",
                what=f"{len(sites)} site(s) added",
                key=digest[:16],
                lines_changed=len(sites),
            ),
            actor=actor,
        )
        opened = open_exception_tasks(session, ctx, opportunity, SITE_EXCEPTION, exceptions)
        audit(
            session,
            ctx,
            opportunity,
            "sites_imported",
            actor=actor,
            inputs={
                "count": len(sites),
                "change_rule": change.rule,
                "warnings": list(warnings),
                "exceptions": opened,
            },
        )
        return len(sites)


def existing_site_ids(ctx: Context, ref: str) -> list[str]:
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return list(
            session.exec(select(Site.site_id).where(Site.opportunity_id == opportunity.id)).all()
        )


def check_sites_allowed(ctx: Context, ref: str) -> None:
    """Refuse (as `import_sites` would) when sites may not change in the bid's phase; reads
    only, for a dry run."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        check_allowed(ctx, opportunity, "sites")
