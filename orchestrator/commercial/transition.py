"""Delivery dates and the transition plan, in working days of each site's country.

A site is delivered its carrier's lead time after the order (the `delivery_days` the carrier
quoted, else rules/delivery.yaml's days for the access type), counted in working days of the
site's country, and never before the install date the customer asked for. The transition
plan groups the sites per country into waves: a wave starts when its slowest carrier has
delivered, and no sooner than `wave_stagger_days` working days after the previous wave
started (one transition team moves country after country; a customer never sees every
country cut over in the same week); it takes as many working days as its sites need at
`installs_per_day`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from orchestrator.commercial.calendar import add_working_days, on_or_after
from orchestrator.decisions.offer_rules import Delivery


@dataclass(frozen=True)
class SiteDelivery:
    """What the transition plan reads of a site."""

    site_id: str
    country: str
    access: str
    provider: str
    """Who delivers the access line (a provider name, "our own team" in-house, or "")."""
    delivery_days: int | None
    """Working days the carrier quoted, if it did."""
    requested_install_date: date | None = None


def delivery_date(order_date: date, site: SiteDelivery, delivery: Delivery) -> date:
    """The earliest delivery: the carrier's lead time after the order, in working days of the
    site's country; the customer's requested install date when that is later."""
    days = delivery.delivery_days_for(site.access, site.delivery_days)
    earliest = add_working_days(on_or_after(order_date, site.country), days, site.country)
    if site.requested_install_date and site.requested_install_date > earliest:
        return on_or_after(site.requested_install_date, site.country)
    return earliest


def lead_time_days(site: SiteDelivery, delivery: Delivery) -> int:
    return delivery.delivery_days_for(site.access, site.delivery_days)


@dataclass(frozen=True)
class Wave:
    wave: int
    country: str
    sites: int
    carriers: tuple[str, ...]
    lead_time_days: int
    """The slowest carrier's lead time in the country, in working days."""
    starts: date
    completed: date


def transition_waves(
    sites: Iterable[SiteDelivery], order_date: date, delivery: Delivery
) -> list[Wave]:
    """One wave per country, the first delivered first, each starting after its carriers'
    lead time and staggered from the wave before."""
    by_country: dict[str, list[SiteDelivery]] = {}
    for site in sites:
        by_country.setdefault(site.country, []).append(site)
    ready = sorted(
        (max(delivery_date(order_date, site, delivery) for site in members), country, members)
        for country, members in by_country.items()
    )
    waves: list[Wave] = []
    previous: Wave | None = None
    for index, (delivered, country, members) in enumerate(ready, start=1):
        starts = delivered
        if previous is not None:
            staggered = add_working_days(
                on_or_after(previous.starts, country), delivery.wave_stagger_days, country
            )
            starts = max(starts, staggered)
        days = math.ceil(len(members) / delivery.installs_per_day)
        previous = Wave(
            wave=index,
            country=country,
            sites=len(members),
            carriers=tuple(sorted({s.provider for s in members if s.provider})),
            lead_time_days=max(lead_time_days(site, delivery) for site in members),
            starts=starts,
            completed=add_working_days(starts, max(days - 1, 0), country),
        )
        waves.append(previous)
    return waves


def expected_order_date(
    contract_start: date | None,
    decision_date: date | None,
    submission_deadline: date,
    delivery: Delivery,
) -> date:
    """When ordering starts: the contract start when known, else a few working days after the
    customer's expected decision (or, without one, a month after the submission)."""
    if contract_start is not None:
        return contract_start
    decided = decision_date or add_working_days(submission_deadline, 20, delivery.home_country)
    return add_working_days(
        decided, delivery.contract_start_after_decision_days, delivery.home_country
    )


def provider_names(names: Mapping[str, str], provider_id: str) -> str:
    """A provider id as people read it (in-house: our own team)."""
    if provider_id == "in-house":
        return "our own team"
    return names.get(provider_id, provider_id)
