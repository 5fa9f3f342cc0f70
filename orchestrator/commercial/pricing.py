"""Every line of a bid priced, or named as unpriced: sites, and services sold per bid.

The price list is in EUR; a bid is priced in its own currency at the FX rate recorded on the
opportunity when it was created (`Opportunity.fx_rate`, `fx_as_of`), so the proposal does not
move when `rules/fx_rates.yaml` is edited. A line is unpriced when the price list has no band
for it and no override prices it: such a line blocks bid production, and no document ever
shows it as 0.00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

from orchestrator.decisions.catalogue import Catalogue, customer_price, line_price_for
from orchestrator.errors import InputError
from orchestrator.store.models import Opportunity


class PricedSite(Protocol):
    """What pricing reads of a site (a stored Site, or its plain row)."""

    @property
    def site_id(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def access(self) -> str: ...
    @property
    def bandwidth_mbps(self) -> int: ...
    @property
    def service(self) -> str: ...


@dataclass(frozen=True)
class PriceLine:
    """One priced line: a site, or a service sold once for the bid. Amounts in EUR."""

    kind: str  # "site" | "bid"
    service: str
    site_id: str | None
    country: str | None
    access: str | None
    bandwidth_mbps: int | None
    monthly_eur: float
    one_off_eur: float
    list_monthly_eur: float | None
    list_one_off_eur: float | None
    source: str  # "list" | "override" | "none"

    @property
    def priced(self) -> bool:
        return self.source != "none"

    @property
    def label(self) -> str:
        if self.kind == "bid":
            return f"{self.service} (per bid)"
        return f"{self.site_id} {self.service} {self.access} {self.bandwidth_mbps} Mbps"


@dataclass(frozen=True)
class FxRate:
    """The rate a bid's prices use: `rate` EUR per unit of `currency`, from `as_of`."""

    currency: str
    rate: float
    as_of: str

    def from_eur(self, amount_eur: float) -> float:
        return round(amount_eur / self.rate, 2)


@dataclass(frozen=True)
class PricedBid:
    """All lines of a bid with their totals in EUR; `fx` converts to the bid's currency."""

    fx: FxRate
    contract_months: int
    lines: tuple[PriceLine, ...]

    @cached_property
    def unpriced(self) -> tuple[PriceLine, ...]:
        return tuple(line for line in self.lines if not line.priced)

    @cached_property
    def monthly_eur(self) -> float:
        return round(sum(line.monthly_eur for line in self.lines if line.priced), 2)

    @cached_property
    def one_off_eur(self) -> float:
        return round(sum(line.one_off_eur for line in self.lines if line.priced), 2)

    @cached_property
    def contract_value_eur(self) -> float:
        return round(self.monthly_eur * self.contract_months + self.one_off_eur, 2)

    @cached_property
    def discount_pct(self) -> float:
        """How far below the list price the priced lines sell, in percent (0: at list)."""
        listed = [line for line in self.lines if line.priced and line.list_monthly_eur is not None]
        at_list = sum(
            (line.list_monthly_eur or 0.0) * self.contract_months + (line.list_one_off_eur or 0.0)
            for line in listed
        )
        sold = sum(line.monthly_eur * self.contract_months + line.one_off_eur for line in listed)
        if at_list <= 0:
            return 0.0
        return round((1 - sold / at_list) * 100, 2)

    def line_for(self, site_id: str) -> PriceLine | None:
        return next((line for line in self.lines if line.site_id == site_id), None)


def bid_fx(opportunity: Opportunity, catalogue: Catalogue) -> FxRate:
    """The rate recorded on the bid; a bid from before rates were recorded uses today's file."""
    currency = opportunity.currency.upper()
    if opportunity.fx_rate:
        return FxRate(currency, opportunity.fx_rate, opportunity.fx_as_of or "")
    rate = catalogue.fx.rates.get(currency)
    if rate is None:
        raise InputError(
            f"{opportunity.ref} is in {currency}, which has no rate in rules/fx_rates.yaml",
            field="currency",
        )
    return FxRate(currency, rate, catalogue.fx.as_of)


def band_of(site: PricedSite, catalogue: Catalogue) -> str | None:
    """The site's price band as a line price names it (`fiber:100`), None when unpriced."""
    band = catalogue.prices.band_for(site.service, site.access, site.bandwidth_mbps)
    return f"{site.access}:{band.up_to_mbps}" if band is not None else None


def site_line(opportunity: Opportunity, site: PricedSite, catalogue: Catalogue) -> PriceLine:
    """A site's line. A price set for the site, its country or its band (`bid pricing
    --site/--country/--band`) is what the customer pays: no discount on top of it."""
    pricing = opportunity.pricing or {}
    price = customer_price(
        catalogue.prices, pricing, site.service, site.access, site.bandwidth_mbps
    )
    if pricing.get("line_price"):
        monthly, one_off = line_price_for(
            pricing, site.site_id, site.country, band_of(site, catalogue)
        )
        if price.source != "none" and (monthly is not None or one_off is not None):
            price = replace(
                price,
                monthly=price.monthly if monthly is None else monthly,
                one_off=price.one_off if one_off is None else one_off,
                source="override",
            )
        elif monthly is not None and one_off is not None:  # an unpriced line priced here
            price = replace(price, monthly=monthly, one_off=one_off, source="override")
    return PriceLine(
        kind="site",
        service=site.service,
        site_id=site.site_id,
        country=site.country,
        access=site.access,
        bandwidth_mbps=site.bandwidth_mbps,
        monthly_eur=price.monthly,
        one_off_eur=price.one_off,
        list_monthly_eur=price.list_monthly,
        list_one_off_eur=price.list_one_off,
        source=price.source,
    )


def bid_lines(
    opportunity: Opportunity, sites: Sequence[PricedSite], catalogue: Catalogue
) -> list[PriceLine]:
    """A line per service the opportunity asks for that no site carries, priced per bid."""
    pricing = opportunity.pricing or {}
    carried = {site.service for site in sites}
    factor = 1.0 - float(pricing.get("discount_pct", 0.0)) / 100.0
    lines = []
    for service in opportunity.services:
        if service in carried:
            continue
        listed = catalogue.prices.per_bid.get(service)
        monthly = pricing.get("monthly_price", {}).get(service)
        one_off = pricing.get("one_off_price", {}).get(service)
        if monthly is None and listed is not None:
            monthly = listed.monthly
        if one_off is None and listed is not None:
            one_off = listed.one_off
        priced = monthly is not None and one_off is not None
        overridden = service in pricing.get("monthly_price", {}) or service in pricing.get(
            "one_off_price", {}
        )
        lines.append(
            PriceLine(
                kind="bid",
                service=service,
                site_id=None,
                country=None,
                access=None,
                bandwidth_mbps=None,
                monthly_eur=round(float(monthly or 0.0) * factor, 2) if priced else 0.0,
                one_off_eur=round(float(one_off or 0.0) * factor, 2) if priced else 0.0,
                list_monthly_eur=listed.monthly if listed else None,
                list_one_off_eur=listed.one_off if listed else None,
                source=("override" if overridden else "list") if priced else "none",
            )
        )
    return lines


def price_bid(
    opportunity: Opportunity, sites: Sequence[PricedSite], catalogue: Catalogue
) -> PricedBid:
    """Every line of the bid (its ordered sites, then its per-bid services), priced in EUR."""
    lines = [site_line(opportunity, site, catalogue) for site in sites]
    lines += bid_lines(opportunity, sites, catalogue)
    return PricedBid(bid_fx(opportunity, catalogue), opportunity.contract_months, tuple(lines))
