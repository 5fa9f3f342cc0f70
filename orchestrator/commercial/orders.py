"""Orders after a win: address checks, clean order-sheet lines, and MACDs.

A wrong address on an order form blocks order management, so addresses are checked against
`rules/address_formats.yaml` both when the clean order sheet is produced (problems are
listed) and when a MACD changes a site (the change is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from orchestrator.commercial.pricing import bid_fx, site_line
from orchestrator.commercial.quotes import current_quotes, ordered_sites
from orchestrator.decisions.catalogue import (
    ACCESS_TYPES,
    IN_HOUSE_PROVIDER,
    SERVICES,
    AddressFormat,
    Catalogue,
)
from orchestrator.errors import InputError
from orchestrator.intake.countries import COUNTRY_CODES
from orchestrator.intake.opportunity import MAX_BANDWIDTH_MBPS, MAX_TEXT, SITE_ID_PATTERN
from orchestrator.lifecycle.table import State
from orchestrator.store.models import ChangeOrder, Opportunity, Quote, Site, utcnow
from orchestrator.text import has_control_characters

ADDRESS_FIELDS = ("street", "postcode", "city", "country")
CHANGE_FIELDS = ("name", "bandwidth_mbps", "access", "service")


class MacdKind(StrEnum):
    MOVE = "move"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


def address_problems(
    street: str, postcode: str, city: str, country: str, formats: dict[str, AddressFormat]
) -> list[tuple[str, str]]:
    """(field, message) for every part of an address that would block ordering."""
    problems: list[tuple[str, str]] = []
    if len(street.strip()) < 3 or not any(ch.isalpha() for ch in street):
        problems.append(("street", f"street '{street}' is missing or too short"))
    if not city.strip():
        problems.append(("city", "city is empty"))
    if country not in COUNTRY_CODES:
        problems.append(("country", f"'{country}' is not an ISO country code"))
        return problems
    fmt = formats.get(country)
    if fmt is None:
        problems.append(
            ("postcode", f"no postcode format for {country} in rules/address_formats.yaml")
        )
    elif not fmt.pattern.fullmatch(postcode.strip().upper()):
        problems.append(
            (
                "postcode",
                f"postcode '{postcode}' is not a valid {country} postcode (e.g. {fmt.example})",
            )
        )
    return problems


@dataclass(frozen=True)
class OrderLine:
    line: int
    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    service: str
    access: str
    bandwidth_mbps: int
    provider: str
    monthly: float
    one_off: float
    problems: tuple[str, ...]

    @property
    def check(self) -> str:
        return "OK" if not self.problems else "; ".join(self.problems)


def order_lines(
    session: Session, opportunity: Opportunity, catalogue: Catalogue
) -> list[OrderLine]:
    """One line per ordered site and service, with its price (in the bid's currency at its
    recorded rate), provider and address check; a line without a price is a problem."""
    opportunity_id = opportunity.id or 0
    quotes = current_quotes(session, opportunity_id)
    fx = bid_fx(opportunity, catalogue)
    lines = []
    for number, site in enumerate(ordered_sites(session, opportunity_id), start=1):
        price = site_line(opportunity, site, catalogue)
        unpriced = () if price.priced else ("no price (the price list has no band for it)",)
        lines.append(
            OrderLine(
                line=number,
                site_id=site.site_id,
                name=site.name,
                street=site.street,
                postcode=site.postcode,
                city=site.city,
                country=site.country,
                service=site.service,
                access=site.access,
                bandwidth_mbps=site.bandwidth_mbps,
                provider=_provider_of(site, quotes.get(site.site_id), catalogue),
                monthly=fx.from_eur(price.monthly_eur),
                one_off=fx.from_eur(price.one_off_eur),
                problems=unpriced
                + tuple(
                    message
                    for _, message in address_problems(
                        site.street,
                        site.postcode,
                        site.city,
                        site.country,
                        catalogue.address_formats,
                    )
                ),
            )
        )
    return lines


def _provider_of(site: Site, quote: Quote | None, catalogue: Catalogue) -> str:
    if quote is not None:
        return quote.provider
    if catalogue.providers.is_in_house(site.country):
        return IN_HOUSE_PROVIDER
    provider = catalogue.providers.provider_for(site.country, site.access)
    return provider.id if provider is not None else "none"


def _site_fields(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "street": site.street,
        "postcode": site.postcode,
        "city": site.city,
        "country": site.country,
        "bandwidth_mbps": site.bandwidth_mbps,
        "access": site.access,
        "service": site.service,
        "ordered": site.ordered,
    }


def _check_values(changes: dict[str, Any]) -> None:
    if "bandwidth_mbps" in changes:
        value = changes["bandwidth_mbps"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= MAX_BANDWIDTH_MBPS
        ):
            raise InputError(
                f"must be a whole number of Mbps from 1 to {MAX_BANDWIDTH_MBPS:,}",
                field="bandwidth",
            )
    for name in ("name", "street", "postcode", "city", "country"):
        text = changes.get(name)
        if isinstance(text, str) and (has_control_characters(text) or len(text) > MAX_TEXT):
            raise InputError(
                f"must be at most {MAX_TEXT} characters, without control characters", field=name
            )
    if "access" in changes and changes["access"] not in ACCESS_TYPES:
        raise InputError(
            f"'{changes['access']}' is not one of {', '.join(sorted(ACCESS_TYPES))}",
            field="access",
        )
    if "service" in changes and changes["service"] not in SERVICES:
        raise InputError(f"'{changes['service']}' is not a service", field="service")
    if "name" in changes and not str(changes["name"]).strip():
        raise InputError("is empty", field="name")
    if "country" in changes:
        changes["country"] = str(changes["country"]).strip().upper()
    if "postcode" in changes:
        changes["postcode"] = str(changes["postcode"]).strip().upper()


def record_macd(
    session: Session,
    opportunity: Opportunity,
    *,
    site_id: str,
    kind: str,
    changes: dict[str, Any],
    actor: str,
    catalogue: Catalogue,
    now: datetime | None = None,
) -> ChangeOrder:
    """Apply a move, add, change or delete to a contracted bid's site and keep the history,
    in the caller's transaction (the `orchestrator.bid.orders` service audits it).

    Refused (InputError) unless the bid is contracted, or when the result would carry an
    address that blocks ordering. The ChangeOrder row keeps the site before and after.
    """
    if opportunity.state != State.CONTRACTED:
        raise InputError(
            f"{opportunity.ref} is in state {opportunity.state}; MACDs apply to contracted "
            "bids only",
            field="state",
        )
    try:
        macd = MacdKind(kind)
    except ValueError:
        raise InputError(
            f"'{kind}' is not one of move, add, change, delete", field="kind"
        ) from None
    changes = {k: v for k, v in changes.items() if v is not None}
    allowed = {
        MacdKind.MOVE: ADDRESS_FIELDS,
        MacdKind.ADD: ADDRESS_FIELDS + CHANGE_FIELDS,
        MacdKind.CHANGE: CHANGE_FIELDS,
        MacdKind.DELETE: (),
    }[macd]
    extra = sorted(set(changes) - set(allowed))
    if extra:
        raise InputError(f"a {macd} cannot set {', '.join(extra)}", field=extra[0])
    if macd in (MacdKind.MOVE, MacdKind.CHANGE) and not changes:
        raise InputError(f"a {macd} needs at least one of {', '.join(allowed)}", field="kind")
    _check_values(changes)
    opportunity_id = opportunity.id or 0
    site = session.exec(
        select(Site).where(Site.opportunity_id == opportunity_id, Site.site_id == site_id)
    ).first()

    if macd is MacdKind.ADD:
        if not SITE_ID_PATTERN.match(site_id):
            raise InputError(
                "may hold only letters, digits and ._- (starting with a letter or digit)",
                field="site",
            )
        if site is not None and site.ordered:
            raise InputError(f"site {site_id} already exists and is ordered", field="site")
        required = ("name", *ADDRESS_FIELDS, "bandwidth_mbps", "access")
        if site is None:
            missing = [f for f in required if f not in changes]
            if missing:
                raise InputError(f"an add needs {', '.join(missing)}", field=missing[0])
    elif site is None or not site.ordered:
        raise InputError(f"no ordered site {site_id} on {opportunity.ref}", field="site")

    before = _site_fields(site) if site is not None else None
    if site is None:
        site = Site(
            opportunity_id=opportunity_id,
            site_id=site_id,
            name=str(changes["name"]),
            street=str(changes["street"]),
            postcode=str(changes["postcode"]),
            city=str(changes["city"]),
            country=str(changes["country"]),
            bandwidth_mbps=int(changes["bandwidth_mbps"]),
            access=str(changes["access"]),
            service=str(changes.get("service", "managed_network")),
        )
    else:
        for name, value in changes.items():
            setattr(site, name, value)
        site.ordered = macd is not MacdKind.DELETE
    if macd is not MacdKind.DELETE:
        problems = address_problems(
            site.street, site.postcode, site.city, site.country, catalogue.address_formats
        )
        if problems:
            field_name, message = problems[0]
            raise InputError(message, field=field_name)
    session.add(site)
    stamp = now or utcnow()
    order = ChangeOrder(
        opportunity_id=opportunity_id,
        site_id=site_id,
        kind=macd.value,
        changes={"before": before, "after": _site_fields(site)},
        actor=actor,
        at=stamp,
    )
    session.add(order)
    session.flush()
    return order


def change_history(session: Session, opportunity_id: int) -> list[ChangeOrder]:
    rows = session.exec(select(ChangeOrder).where(ChangeOrder.opportunity_id == opportunity_id))
    return sorted(rows.all(), key=lambda c: c.id or 0)


def summarise_change(order: ChangeOrder) -> str:
    """'street: Old St 1 → New St 2; postcode: …' for the order sheet's history table."""
    before = order.changes.get("before") or {}
    after = order.changes.get("after") or {}
    if order.kind == MacdKind.DELETE:
        return "site removed from the order"
    if not before:
        return "new site: " + ", ".join(
            str(after.get(k, "")) for k in ("name", "street", "postcode", "city", "country")
        )
    parts = [
        f"{key}: {before.get(key)} → {after.get(key)}"
        for key in (*ADDRESS_FIELDS, *CHANGE_FIELDS)
        if before.get(key) != after.get(key)
    ]
    return "; ".join(parts) or "no change"
