"""Quotes: the catalogue, the quote that counts per site, its status, and the bid margin.

Standard products have list prices; a special design needs quotes from providers, first
budgetary, then firm. This module tells per site which quote counts and whether it is
firm, budgetary, missing, expired or stale, and computes the margin of the customer price
over the supplier cost in EUR. A quote belongs to the site specification it priced
(`Quote.spec`): once the site's spec changes, the quote is stale — it no longer counts (the
margin, the coverage and the exit criteria see the site as unquoted) until a quote for the
new spec comes in. Planning the quote requests lives in
`orchestrator.commercial.qrf`, reading the providers' answers in
`orchestrator.commercial.quote_import`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select as columns  # sqlmodel's select takes at most four columns
from sqlmodel import Session, col, select

from orchestrator.commercial.pricing import site_line
from orchestrator.decisions.catalogue import Catalogue, load_catalogue
from orchestrator.errors import InputError
from orchestrator.store.models import Opportunity, Quote, QuoteKind, Site

# --- catalogue access ----------------------------------------------------------------------


def _rules_stamp(rules_dir: Path) -> tuple[float, ...]:
    names = (
        "providers.yaml",
        "fx_rates.yaml",
        "price_list.yaml",
        "address_formats.yaml",
        "access_limits.yaml",
    )
    return tuple((rules_dir / n).stat().st_mtime if (rules_dir / n).exists() else 0 for n in names)


@lru_cache(maxsize=8)
def _cached_catalogue(rules_dir: Path, _stamp: tuple[float, ...]) -> Catalogue:
    return load_catalogue(rules_dir)


def catalogue_for(rules_dir: Path) -> Catalogue:
    """The catalogue under `rules_dir`, reloaded when one of its files changes."""
    resolved = rules_dir.resolve()
    return _cached_catalogue(resolved, _rules_stamp(resolved))


def to_eur(rules_dir: Path, amount: float, currency: str) -> float:
    """Convert an amount to EUR with `rules/fx_rates.yaml`; unknown currency is an InputError."""
    fx = catalogue_for(rules_dir).fx
    code = currency.upper()
    if code not in fx.rates:
        raise InputError(f"no exchange rate for '{currency}'", field="currency")
    return fx.to_eur(amount, code)


class QuoteCost(Protocol):
    """What the margin needs of a quote (a stored Quote or a row being imported)."""

    @property
    def monthly_cost(self) -> float: ...
    @property
    def one_off_cost(self) -> float: ...
    @property
    def currency(self) -> str: ...


# --- current quotes ------------------------------------------------------------------------


def ordered_sites(session: Session, opportunity_id: int) -> list[Site]:
    """The bid's ordered sites in site-id order (the order of every document)."""
    rows = session.exec(
        select(Site).where(Site.opportunity_id == opportunity_id, Site.ordered == True)  # noqa: E712
    ).all()
    return sorted(rows, key=lambda s: _natural_key(s.site_id))


def has_ordered_sites(session: Session, opportunity_id: int) -> bool:
    """Whether the bid orders any site (one row read, not all of them)."""
    return (
        session.exec(
            select(Site.id)
            .where(Site.opportunity_id == opportunity_id, Site.ordered == True)  # noqa: E712
            .limit(1)
        ).first()
        is not None
    )


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


SPEC_FIELDS = (
    "access",
    "bandwidth_mbps",
    "service",
    "street",
    "postcode",
    "city",
    "country",
    "sla_class",
)
"""The specification of a site a quote answers (recorded with the quote and the version)."""
PRICED_FIELDS = tuple(name for name in SPEC_FIELDS if name != "postcode")
"""What a carrier prices: a change of any of these makes the quote stale. A postcode alone
is corrected, not moved (a typo of the same street and city, fixed on the order sheet), and
keeps the quote."""


def site_spec(site: Any) -> dict[str, Any]:
    """The specification of a site (a `Site` or `SiteFacts`) a quote prices."""
    return {name: getattr(site, name) for name in SPEC_FIELDS}


def spec_changes(priced: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """The priced fields of `current` that differ from the spec a quote priced (none when
    the quote predates recorded specs)."""
    if priced is None:
        return []
    return [name for name in PRICED_FIELDS if priced.get(name) != current.get(name)]


def site_specs(session: Session, opportunity_id: int) -> dict[str, dict[str, Any]]:
    """Every site's current spec (ordered or not), by site id, in one query."""
    rows = session.execute(
        columns(col(Site.site_id), *(getattr(Site, name) for name in SPEC_FIELDS)).where(
            col(Site.opportunity_id) == opportunity_id
        )
    ).all()
    return {row[0]: dict(zip(SPEC_FIELDS, row[1:], strict=True)) for row in rows}


def _stale(quote: Quote, specs: Mapping[str, Mapping[str, Any]]) -> bool:
    current = specs.get(quote.site_id)
    return current is not None and bool(spec_changes(quote.spec, current))


def _live_quotes(session: Session, opportunity_id: int) -> list[Quote]:
    return list(
        session.exec(
            select(Quote).where(
                Quote.opportunity_id == opportunity_id,
                Quote.superseded == False,  # noqa: E712
            )
        ).all()
    )


def _best(rows: Sequence[Quote]) -> dict[str, Quote]:
    best: dict[str, Quote] = {}
    for quote in rows:
        held = best.get(quote.site_id)
        if held is None or quote_rank(quote) > quote_rank(held):
            best[quote.site_id] = quote
    return best


def current_quotes(session: Session, opportunity_id: int) -> dict[str, Quote]:
    """Per site, the quote that counts: the newest firm one, else the newest budgetary one,
    of those that priced the site's current spec (a stale quote counts for nothing)."""
    specs = site_specs(session, opportunity_id)
    return _best([q for q in _live_quotes(session, opportunity_id) if not _stale(q, specs)])


@dataclass(frozen=True, slots=True)
class StaleQuote:
    """A site whose quote priced a spec it no longer has: re-quote it."""

    quote: Quote
    changed: tuple[str, ...]
    """The spec fields that changed since the quote."""


def stale_quotes(session: Session, opportunity_id: int) -> dict[str, StaleQuote]:
    """Per site without a quote for its current spec, the best quote of an earlier spec."""
    specs = site_specs(session, opportunity_id)
    live = _live_quotes(session, opportunity_id)
    fresh = {q.site_id for q in live if not _stale(q, specs)}
    stale = _best([q for q in live if q.site_id not in fresh and _stale(q, specs)])
    return {
        site_id: StaleQuote(quote, tuple(spec_changes(quote.spec, specs[site_id])))
        for site_id, quote in stale.items()
    }


class Ranked(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> QuoteKind: ...


def quote_rank(quote: Ranked) -> tuple[int, int]:
    """Firm beats budgetary; then the newest row (ids grow; an unsaved row is the newest)."""
    return (1 if quote.kind == QuoteKind.FIRM else 0, quote.id if quote.id is not None else 2**62)


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """A site as a plain row: the deal reads thousands of them, without ORM objects."""

    site_id: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    bandwidth_mbps: int
    access: str
    service: str
    sla_class: str | None = None
    requested_install_date: date | None = None
    asked_access: str | None = None
    asked_bandwidth_mbps: int | None = None
    """What the customer asked, when we offer another access (`bid design propose`)."""


def site_facts(session: Session, opportunity_id: int) -> list[SiteFacts]:
    """`ordered_sites` as plain rows, in the same order."""
    rows = session.execute(
        columns(
            col(Site.site_id),
            col(Site.name),
            col(Site.street),
            col(Site.postcode),
            col(Site.city),
            col(Site.country),
            col(Site.bandwidth_mbps),
            col(Site.access),
            col(Site.service),
            col(Site.sla_class),
            col(Site.requested_install_date),
            col(Site.asked_access),
            col(Site.asked_bandwidth_mbps),
        ).where(col(Site.opportunity_id) == opportunity_id, col(Site.ordered).is_(True))
    ).all()
    return sorted((SiteFacts(*row) for row in rows), key=lambda s: _natural_key(s.site_id))


@dataclass(frozen=True, slots=True)
class QuoteFacts:
    """A quote as a plain row (see `SiteFacts`)."""

    id: int | None
    site_id: str
    provider: str
    kind: QuoteKind
    monthly_cost: float
    one_off_cost: float
    currency: str
    valid_until: date
    delivery_days: int | None = None
    provider_reference: str | None = None


def quote_facts(session: Session, opportunity_id: int) -> dict[str, QuoteFacts]:
    """`current_quotes` as plain rows: per site, the quote that counts (an outlier waiting
    for `bid quotes accept|requote` does not: the margin counts its site as unquoted; stale
    ones, of an earlier spec, do not either)."""
    return quote_facts_with_stale(session, opportunity_id)[0]


def quote_facts_with_stale(
    session: Session, opportunity_id: int
) -> tuple[dict[str, QuoteFacts], frozenset[str]]:
    """`quote_facts`, and the sites whose only quotes priced an earlier spec (stale)."""
    rows = session.execute(
        columns(
            col(Quote.id),
            col(Quote.site_id),
            col(Quote.provider),
            col(Quote.kind),
            col(Quote.monthly_cost),
            col(Quote.one_off_cost),
            col(Quote.currency),
            col(Quote.valid_until),
            col(Quote.delivery_days),
            col(Quote.provider_reference),
            col(Quote.spec),
        )
        .where(col(Quote.opportunity_id) == opportunity_id, col(Quote.superseded).is_(False))
        .where(col(Quote.outlier).is_(None))  # an outlier counts once accepted
    ).all()
    specs = site_specs(session, opportunity_id)
    best: dict[str, QuoteFacts] = {}
    stale: set[str] = set()
    for row in rows:
        quote = QuoteFacts(*row[:-1])
        current = specs.get(quote.site_id)
        if current is not None and spec_changes(row[-1], current):
            stale.add(quote.site_id)  # priced a spec the site no longer has
            continue
        held = best.get(quote.site_id)
        if held is None or quote_rank(quote) > quote_rank(held):
            best[quote.site_id] = quote
    return best, frozenset(stale - set(best))


# --- margin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteMargin:
    site_id: str
    revenue_eur: float
    cost_eur: float | None

    @property
    def margin_pct(self) -> float | None:
        if self.cost_eur is None or self.revenue_eur <= 0:
            return None
        return round((self.revenue_eur - self.cost_eur) / self.revenue_eur * 100, 2)


@dataclass(frozen=True)
class BidMargin:
    """Customer price over supplier cost across the contract, for the sites that have quotes."""

    contract_months: int
    sites: tuple[SiteMargin, ...]

    @cached_property
    def total_contract_value_eur(self) -> float:
        return round(sum(s.revenue_eur for s in self.sites), 2)

    @cached_property
    def quoted_revenue_eur(self) -> float:
        return round(sum(s.revenue_eur for s in self.sites if s.cost_eur is not None), 2)

    @cached_property
    def quoted_cost_eur(self) -> float:
        return round(sum(s.cost_eur for s in self.sites if s.cost_eur is not None), 2)

    @cached_property
    def margin_pct(self) -> float | None:
        """None while no site has a quote (the governance table reads that as 'no quotes')."""
        revenue = self.quoted_revenue_eur
        if revenue <= 0:
            return None
        return round((revenue - self.quoted_cost_eur) / revenue * 100, 2)


def compute_margin(
    opportunity: Opportunity,
    sites: Sequence[Site],
    quotes: Mapping[str, QuoteCost],
    catalogue: Catalogue,
) -> BidMargin:
    """Margin per site and per bid; supplier costs converted to EUR with the FX file."""
    months = opportunity.contract_months
    fx = catalogue.fx
    lines: list[SiteMargin] = []
    for site in sites:
        price = site_line(opportunity, site, catalogue)
        revenue = price.monthly_eur * months + price.one_off_eur
        quote = quotes.get(site.site_id)
        cost = None
        if quote is not None:
            cost = fx.to_eur(quote.monthly_cost * months + quote.one_off_cost, quote.currency)
        lines.append(SiteMargin(site.site_id, round(revenue, 2), cost))
    return BidMargin(months, tuple(lines))


# --- quote status --------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteQuoteStatus:
    site_id: str
    country: str
    status: str  # "firm" | "budgetary" | "missing" | "expired" | "stale"
    provider: str | None
    valid_until: date | None
    margin_pct: float | None
    changed: tuple[str, ...] = ()
    """For a stale quote: the spec fields changed since it priced the site."""

    @property
    def label(self) -> str:
        """The status as people read it ("stale — re-quote" names what changed)."""
        if self.status == "stale":
            return f"stale — re-quote ({', '.join(self.changed)})"
        return self.status


@dataclass(frozen=True)
class QuoteStatusReport:
    ref: str
    sites: tuple[SiteQuoteStatus, ...]
    margin: BidMargin

    @property
    def counts(self) -> dict[str, int]:
        counts = {"firm": 0, "budgetary": 0, "missing": 0, "expired": 0, "stale": 0}
        for site in self.sites:
            counts[site.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "counts": self.counts,
            "margin_pct": self.margin.margin_pct,
            "total_contract_value_eur": self.margin.total_contract_value_eur,
            "contract_months": self.margin.contract_months,
            "sites": [
                {
                    "site_id": s.site_id,
                    "country": s.country,
                    "status": s.status,
                    "label": s.label,
                    "changed": list(s.changed),
                    "provider": s.provider,
                    "valid_until": s.valid_until.isoformat() if s.valid_until else None,
                    "margin_pct": s.margin_pct,
                }
                for s in self.sites
            ],
        }


def quote_status(
    session: Session, opportunity: Opportunity, catalogue: Catalogue, today: date
) -> QuoteStatusReport:
    """Per ordered site: firm, budgetary, missing, expired, stale (its spec changed since
    the quote) or outlier (waiting for `bid quotes accept|requote`); stale and outlier quotes
    count as missing in the margin. Plus the bid margin."""
    opportunity_id = opportunity.id or 0
    sites = ordered_sites(session, opportunity_id)
    quotes = current_quotes(session, opportunity_id)
    stale = stale_quotes(session, opportunity_id)
    counted = {site_id: q for site_id, q in quotes.items() if q.outlier is None}
    margin = compute_margin(opportunity, sites, counted, catalogue)
    by_site = {m.site_id: m for m in margin.sites}
    lines = []
    for site in sites:
        quote = quotes.get(site.site_id)
        old = stale.get(site.site_id)
        if quote is None and old is not None:
            lines.append(
                SiteQuoteStatus(
                    site_id=site.site_id,
                    country=site.country,
                    status="stale",
                    provider=old.quote.provider,
                    valid_until=old.quote.valid_until,
                    margin_pct=None,
                    changed=old.changed,
                )
            )
            continue
        if quote is None:
            status = "missing"
        elif quote.outlier is not None:
            status = "outlier"
        elif quote.valid_until < today:
            status = "expired"
        else:
            status = quote.kind
        lines.append(
            SiteQuoteStatus(
                site_id=site.site_id,
                country=site.country,
                status=status,
                provider=quote.provider if quote else None,
                valid_until=quote.valid_until if quote else None,
                margin_pct=by_site[site.site_id].margin_pct,
            )
        )
    return QuoteStatusReport(opportunity.ref, tuple(lines), margin)
