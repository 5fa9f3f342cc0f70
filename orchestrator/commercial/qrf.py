"""Quote requests (QRFs): a bid's sites grouped per country and provider.

Standard products have list prices; a special design needs quotes from providers. This
module plans who is asked for what: one QRF per country and provider, an internal quote
task per in-house country (BE, NL), and the sites no provider serves. A site that already
has a quote is asked for a firm one, any other site for a budgetary one.

Once a request of a country and provider was sent, a later change of its sites makes the
next QRF an **amendment**: it lists only the changed sites (whose quote priced a spec they
no longer have: stale) and the new ones, each marked, and names the earlier lines it
withdraws (the changed sites' old spec, the sites no longer in the request). Without such a
change the QRF is issued whole again (e.g. to ask firm quotes for budgetary ones).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.commercial.quotes import current_quotes, ordered_sites, stale_quotes
from orchestrator.decisions.catalogue import Catalogue, Provider
from orchestrator.store.models import Quote, QuoteKind, QuoteRequest, Site


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
    change: str = ""
    """In an amendment: why the site is asked for ("new site", "changed: bandwidth_mbps")."""

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
class Amendment:
    """A QRF that amends an earlier request of the same country and provider."""

    amends: str
    """The earlier request's name (qrf-DE-telekom)."""
    number: int
    withdrawn: tuple[str, ...]
    """Site ids whose earlier line no longer stands (changed spec, or no longer asked)."""


@dataclass(frozen=True)
class QrfGroup:
    """One QRF: the sites of one country quoted by one provider."""

    country: str
    provider: Provider
    lines: tuple[QrfLine, ...]
    amendment: Amendment | None = None

    @property
    def base_name(self) -> str:
        return f"qrf-{self.country}-{self.provider.id}"

    @property
    def name(self) -> str:
        if self.amendment is not None:
            return f"{self.base_name}-amendment-{self.amendment.number}"
        return self.base_name


@dataclass(frozen=True)
class SentRequests:
    """What the earlier (not cancelled) requests of one country and provider asked."""

    asked: frozenset[str]
    amendments: int = 0
    last_amendment_hash: str | None = None


def sent_requests(session: Session, opportunity_id: int) -> dict[str, SentRequests]:
    """Per request name (an amendment counts under the name it amends), the sites asked so
    far and the amendments sent; cancelled requests (a bid on hold) are as if never sent."""
    rows = session.exec(
        select(QuoteRequest)
        .where(QuoteRequest.opportunity_id == opportunity_id)
        .where(col(QuoteRequest.cancelled_at).is_(None))
        .order_by(col(QuoteRequest.id))
    ).all()
    asked: dict[str, set[str]] = {}
    amendments: dict[str, int] = {}
    last: dict[str, str] = {}
    for row in rows:
        base = row.amends or row.name
        asked.setdefault(base, set()).update(row.budgetary_site_ids, row.firm_site_ids)
        if row.amends:
            amendments[base] = amendments.get(base, 0) + 1
            last[base] = row.content_hash
    return {
        base: SentRequests(frozenset(ids), amendments.get(base, 0), last.get(base))
        for base, ids in asked.items()
    }


def _amended(
    group: QrfGroup, sent: SentRequests | None, stale: dict[str, tuple[str, ...]]
) -> QrfGroup:
    """The group as an amendment when sites changed or joined since its request was sent."""
    if sent is None or not sent.asked:
        return group
    in_group = {line.site_id for line in group.lines}
    changed = [
        replace(line, change="changed: " + ", ".join(stale[line.site_id]))
        for line in group.lines
        if line.site_id in stale
    ]
    new = [
        replace(line, change="new site")
        for line in group.lines
        if line.site_id not in sent.asked and line.site_id not in stale
    ]
    if not changed and not new:
        return group
    lines = tuple(sorted((*changed, *new), key=lambda line: _order(group.lines, line)))
    withdrawn = sorted(({line.site_id for line in changed} | (sent.asked - in_group)) & sent.asked)
    budgetary, firm = split_requested(lines)
    number = sent.amendments + 1
    if sent.last_amendment_hash == request_hash(budgetary, firm):
        number = sent.amendments  # the same amendment again: re-issued, not a new one
    return replace(
        group, lines=lines, amendment=Amendment(group.base_name, number, tuple(withdrawn))
    )


def _order(lines: Sequence[QrfLine], line: QrfLine) -> int:
    return next(i for i, held in enumerate(lines) if held.site_id == line.site_id)


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


def plan_qrfs(
    sites: Sequence[Site],
    quotes: dict[str, Quote],
    catalogue: Catalogue,
    *,
    stale: dict[str, tuple[str, ...]] | None = None,
    stale_firm: frozenset[str] = frozenset(),
    sent: dict[str, SentRequests] | None = None,
) -> QrfPlan:
    """Group sites per country and provider; BE/NL go in-house; unserved sites are listed.

    With `stale` (site id → the spec fields changed since its quote) and `sent` (what the
    earlier requests asked), a provider's QRF becomes an amendment with only the changed and
    new sites; a changed site is asked for the kind its stale quote was (`stale_firm`)."""
    stale = stale or {}
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
            requested="firm"
            if site.site_id in quotes or site.site_id in stale_firm
            else "budgetary",
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
            _amended(
                group,
                (sent or {}).get(group.base_name) if sent is not None else None,
                stale,
            )
            for group in (
                QrfGroup(country, providers[pid], tuple(lines))
                for (country, pid), lines in sorted(groups.items())
            )
        ),
        in_house=tuple(InHouseTask(c, tuple(lines)) for c, lines in sorted(in_house.items())),
        unserved=tuple(unserved),
    )


def plan_for(session: Session, opportunity_id: int, catalogue: Catalogue) -> QrfPlan:
    """The QRF plan of a bid as it stands: its sites, the quotes that count, the stale ones
    and what was sent before (the same plan for the documents and the records)."""
    stale = stale_quotes(session, opportunity_id)
    return plan_qrfs(
        ordered_sites(session, opportunity_id),
        current_quotes(session, opportunity_id),
        catalogue,
        stale={site_id: held.changed for site_id, held in stale.items()},
        stale_firm=frozenset(
            site_id for site_id, held in stale.items() if held.quote.kind == QuoteKind.FIRM
        ),
        sent=sent_requests(session, opportunity_id),
    )
