"""Quote requests (QRFs): a bid's sites grouped per country and provider.

Standard products have list prices; a special design needs quotes from providers. This
module plans who is asked for what: one QRF per country and provider, an internal quote
task per in-house country (BE, NL), and the sites no provider serves. A site that already
has a quote is asked for a firm one, any other site for a budgetary one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from orchestrator.decisions.catalogue import Catalogue, Provider
from orchestrator.store.models import Quote, Site


@dataclass(frozen=True)
class QrfLine:
    """One site asked for in a QRF."""

    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    bandwidth_mbps: int
    access: str
    service: str
    requested: str  # "budgetary" | "firm"
    requested_install_date: date | None = None
    sla_class: str | None = None
    interface: str | None = None
    resilience: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    customer_asked: str | None = None
    """What the customer asked when we propose another access ("copper 200 Mbit/s"): the
    carrier quotes `access` and `bandwidth_mbps`, and knows what the site has today."""

    def as_row(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "name": self.name,
            "street": self.street,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "bandwidth_mbps": self.bandwidth_mbps,
            "access": self.access,
            "service": self.service,
            "requested": self.requested,
            "customer_asked": self.customer_asked or "",
        }


def request_hash(budgetary: Sequence[str], firm: Sequence[str]) -> str:
    """What a quote request asks for, as a hash: the same sites and kinds, the same request."""
    content = json.dumps({"budgetary": sorted(budgetary), "firm": sorted(firm)})
    return hashlib.sha256(content.encode()).hexdigest()


def split_requested(lines: Sequence[QrfLine]) -> tuple[list[str], list[str]]:
    """(budgetary site ids, firm site ids) of a request."""
    budgetary = [line.site_id for line in lines if line.requested == "budgetary"]
    firm = [line.site_id for line in lines if line.requested == "firm"]
    return budgetary, firm


def reply_by_date(today: date, lead_time_days: int, country: str) -> date:
    """The reply-by date of a QRF: the provider's turnaround in working days of the country."""
    from orchestrator.commercial.calendar import add_working_days

    return add_working_days(today, max(lead_time_days, 1), country)


def qrf_reference(opportunity_ref: str, name: str, version: int) -> str:
    """QRF-0001-DE-telekom-2: what the carrier quotes back (our bid, country, provider, version)."""
    return f"QRF-{opportunity_ref.removeprefix('OPP-')}-{name.removeprefix('qrf-')}-{version}"


@dataclass(frozen=True)
class QrfGroup:
    """One QRF: the sites of one country quoted by one provider."""

    country: str
    provider: Provider
    lines: tuple[QrfLine, ...]

    @property
    def name(self) -> str:
        return f"qrf-{self.country}-{self.provider.id}"


@dataclass(frozen=True)
class InHouseTask:
    """Sites of one in-house country (BE, NL): quoted by sales support, no outbound QRF."""

    country: str
    lines: tuple[QrfLine, ...]

    @property
    def name(self) -> str:
        return f"internal-quote-task-{self.country}"


@dataclass(frozen=True)
class QrfPlan:
    groups: tuple[QrfGroup, ...]
    in_house: tuple[InHouseTask, ...]
    unserved: tuple[QrfLine, ...]

    @property
    def problems(self) -> list[str]:
        return [
            f"site {line.site_id} ({line.country}, {line.access}): no provider serves it"
            for line in self.unserved
        ]


def customer_asked(site: object) -> str | None:
    """What the customer asked for a site we offer an alternative for, else None."""
    access = getattr(site, "asked_access", None)
    if access is None:
        return None
    return f"{access} {getattr(site, 'asked_bandwidth_mbps', None) or '?'} Mbit/s"


def plan_qrfs(sites: Sequence[Site], quotes: dict[str, Quote], catalogue: Catalogue) -> QrfPlan:
    """Group sites per country and provider; BE/NL go in-house; unserved sites are listed."""
    groups: dict[tuple[str, str], list[QrfLine]] = {}
    providers: dict[str, Provider] = {}
    in_house: dict[str, list[QrfLine]] = {}
    unserved: list[QrfLine] = []
    for site in sites:
        line = QrfLine(
            site_id=site.site_id,
            name=site.name,
            street=site.street,
            postcode=site.postcode,
            city=site.city,
            country=site.country,
            bandwidth_mbps=site.bandwidth_mbps,
            access=site.access,
            service=site.service,
            requested="firm" if site.site_id in quotes else "budgetary",
            requested_install_date=site.requested_install_date,
            sla_class=site.sla_class,
            interface=site.interface,
            resilience=site.resilience,
            contact_name=getattr(site, "contact_name", None),
            contact_phone=getattr(site, "contact_phone", None),
            contact_email=getattr(site, "contact_email", None),
            customer_asked=customer_asked(site),
        )
        if catalogue.providers.is_in_house(site.country):
            in_house.setdefault(site.country, []).append(line)
            continue
        provider = catalogue.providers.provider_for(site.country, site.access)
        if provider is None:
            unserved.append(line)
            continue
        providers[provider.id] = provider
        groups.setdefault((site.country, provider.id), []).append(line)
    return QrfPlan(
        groups=tuple(
            QrfGroup(country, providers[pid], tuple(lines))
            for (country, pid), lines in sorted(groups.items())
        ),
        in_house=tuple(InHouseTask(c, tuple(lines)) for c, lines in sorted(in_house.items())),
        unserved=tuple(unserved),
    )
