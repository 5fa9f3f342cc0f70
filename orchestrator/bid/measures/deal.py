"""The priced deal of a bid, read in one place: its lines, quote coverage, margin and terms.

Bid production's exit criteria, the governance table's inputs, the approvers' summary and
the proposal all read this one value, so what the approvers see is what governance judged
and what the customer reads. A bid version (`bid.versions`) freezes it with a number.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from threading import Lock
from typing import Any

from sqlmodel import Session, select

from orchestrator.bid.facts import account_of
from orchestrator.commercial.pricing import PricedBid, price_bid
from orchestrator.commercial.quotes import (
    BidMargin,
    QuoteFacts,
    SiteFacts,
    SiteMargin,
    catalogue_for,
    quote_facts_with_stale,
    site_facts,
)
from orchestrator.context import Context
from orchestrator.decisions.catalogue import IN_HOUSE_PROVIDER, Catalogue
from orchestrator.ports import Decision
from orchestrator.store.models import Opportunity, QuoteKind, QuoteRequest


@dataclass(frozen=True)
class Coverage:
    """Who quotes each site, and which quote counts for it today."""

    sites: int
    outbound: int
    """Sourced sites quoted by an outside provider (not in-house)."""
    unsourced: tuple[str, ...]
    """Site ids nobody quotes (no provider for the country and access, no fallback)."""
    unsourced_countries: tuple[tuple[str, int], ...]
    fallback_sites: int
    fallback_countries: tuple[str, ...]
    quoted: int
    """Sites with a valid quote (not expired), budgetary or firm."""
    firm: int
    outbound_firm: int
    budgetary: int
    expired: int
    missing: int
    requested: int
    """Sourced sites asked for in a recorded quote request, or already quoted."""
    stale: int = 0
    """Sites whose quote priced an earlier spec (counted as missing): re-quote them."""

    @property
    def sourced(self) -> int:
        return self.sites - len(self.unsourced)

    @property
    def budgetary_share(self) -> float:
        return round(self.budgetary / self.quoted, 4) if self.quoted else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "sites": self.sites,
            "sourced": self.sourced,
            "unsourced": len(self.unsourced),
            "unsourced_countries": dict(self.unsourced_countries),
            "outbound": self.outbound,
            "fallback_sites": self.fallback_sites,
            "quoted": self.quoted,
            "firm": self.firm,
            "outbound_firm": self.outbound_firm,
            "budgetary": self.budgetary,
            "budgetary_share": self.budgetary_share,
            "expired": self.expired,
            "missing": self.missing,
            "requested": self.requested,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class Deal:
    """A bid's priced deal today."""

    ref: str
    tier: str
    priced: PricedBid
    margin: BidMargin
    coverage: Coverage
    deviations: tuple[str, ...]
    fingerprint: str
    """Hash of everything that makes the deal (sites, quotes, prices, terms)."""
    quotes: dict[str, QuoteFacts]
    """Per site, the quote that counts (firm over budgetary, newest first)."""
    sites: tuple[SiteFacts, ...] = ()
    """The ordered sites the deal was priced on, in document order."""

    @property
    def currency(self) -> str:
        return self.priced.fx.currency

    def governance_inputs(self) -> dict[str, Any]:
        """The facts rules/governance.json judges."""
        return {
            "tier": self.tier,
            "total_contract_value_eur": self.priced.contract_value_eur,
            "monthly_recurring_eur": self.priced.monthly_eur,
            "one_off_eur": self.priced.one_off_eur,
            "margin_pct": self.margin.margin_pct,
            "discount_pct": self.priced.discount_pct,
            "budgetary_share": self.coverage.budgetary_share,
            "non_standard_terms": len(self.deviations),
        }


def _live(quote: QuoteFacts | None, today: date) -> bool:
    return quote is not None and quote.valid_until >= today


def coverage_of(
    sites: list[SiteFacts],
    quotes: dict[str, QuoteFacts],
    requested: set[str],
    catalogue: Catalogue,
    today: date,
    stale: frozenset[str] = frozenset(),
) -> Coverage:
    providers = catalogue.providers
    fallback = providers.fallback
    unsourced: list[SiteFacts] = []
    outbound = outbound_firm = quoted = firm = budgetary = expired = missing = asked = 0
    fallback_sites: Counter[str] = Counter()
    for site in sites:
        routed = providers.routed_provider(site.country, site.access)
        quote = quotes.get(site.site_id)
        if routed is None:
            unsourced.append(site)
        else:
            if routed != IN_HOUSE_PROVIDER:
                outbound += 1
            if fallback is not None and routed == fallback.id:
                fallback_sites[site.country] += 1
            if quote is not None or site.site_id in requested:
                asked += 1
        if quote is None:
            missing += 1
        elif not _live(quote, today):
            expired += 1
        else:
            quoted += 1
            if quote.kind == QuoteKind.FIRM:
                firm += 1
                outbound_firm += routed not in (None, IN_HOUSE_PROVIDER)
            else:
                budgetary += 1
    countries = Counter(site.country for site in unsourced)
    return Coverage(
        sites=len(sites),
        outbound=outbound,
        unsourced=tuple(site.site_id for site in unsourced),
        unsourced_countries=tuple(sorted(countries.items())),
        fallback_sites=sum(fallback_sites.values()),
        fallback_countries=tuple(sorted(fallback_sites)),
        quoted=quoted,
        firm=firm,
        outbound_firm=outbound_firm,
        budgetary=budgetary,
        expired=expired,
        missing=missing,
        requested=asked,
        stale=sum(1 for site in sites if site.site_id in stale),
    )


def requested_site_ids(session: Session, opportunity_id: int) -> set[str]:
    """Sites asked for in any recorded quote request of the bid."""
    rows = session.exec(
        select(QuoteRequest.budgetary_site_ids, QuoteRequest.firm_site_ids).where(
            QuoteRequest.opportunity_id == opportunity_id
        )
    ).all()
    return {site_id for budgetary, firm in rows for site_id in (*budgetary, *firm)}


def _fingerprint(
    opportunity: Opportunity, sites: list[SiteFacts], quotes: dict[str, QuoteFacts]
) -> str:
    content = {
        "sites": [
            (s.site_id, s.country, s.access, s.bandwidth_mbps, s.service, s.street, s.postcode)
            for s in sites
        ],
        "quotes": sorted(
            (
                q.site_id,
                q.provider,
                q.kind.value,
                q.monthly_cost,
                q.one_off_cost,
                q.currency,
                q.valid_until.isoformat(),
            )
            for q in quotes.values()
        ),
        "pricing": opportunity.pricing,
        "months": opportunity.contract_months,
        "currency": opportunity.currency,
        "services": sorted(opportunity.services),
        "deviations": list(opportunity.deviations),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def margin_of(priced: PricedBid, quotes: dict[str, QuoteFacts], catalogue: Catalogue) -> BidMargin:
    """Customer price over supplier cost per quoted site, in EUR, across the contract."""
    months = priced.contract_months
    lines = []
    for line in priced.lines:
        if line.site_id is None:
            continue
        quote = quotes.get(line.site_id)
        cost = None
        if quote is not None:
            cost = catalogue.fx.to_eur(
                quote.monthly_cost * months + quote.one_off_cost, quote.currency
            )
        revenue = line.monthly_eur * months + line.one_off_eur
        lines.append(SiteMargin(line.site_id, round(revenue, 2), cost))
    return BidMargin(months, tuple(lines))


@dataclass(frozen=True)
class LossLine:
    """A site line that costs more than it sells for across the contract. Amounts in EUR:
    per month (price and cost), and the loss over the whole term (one-off charges in)."""

    site_id: str
    country: str
    monthly_price: float
    monthly_cost: float
    loss: float

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "country": self.country,
            "monthly_price": self.monthly_price,
            "monthly_cost": self.monthly_cost,
            "loss": self.loss,
        }


def loss_making_lines(deal: Deal) -> list[LossLine]:
    """The deal's loss-making lines, the largest loss first: where a price change helps
    (`bid pricing OPP --site S --monthly X`). Pure: reads the priced deal only (the monthly
    cost in EUR at the rate the margin converted the quote with)."""
    margins = {m.site_id: m for m in deal.margin.sites}
    months = deal.priced.contract_months
    found: list[LossLine] = []
    for line in deal.priced.lines:
        if line.site_id is None:
            continue
        margin = margins.get(line.site_id)
        quote = deal.quotes.get(line.site_id)
        if margin is None or margin.cost_eur is None or quote is None:
            continue
        loss = round(margin.cost_eur - margin.revenue_eur, 2)
        if loss <= 0:
            continue
        whole = quote.monthly_cost * months + quote.one_off_cost
        monthly_cost = round(margin.cost_eur * quote.monthly_cost / whole, 2) if whole else 0.0
        found.append(
            LossLine(line.site_id, line.country or "", line.monthly_eur, monthly_cost, loss)
        )
    return sorted(found, key=lambda item: (-item.loss, item.site_id))


_PRICED: OrderedDict[Hashable, tuple[Catalogue, Deal]] = OrderedDict()
_PRICED_HELD = 16
_PRICED_LOCK = Lock()


def load_deal(session: Session, ctx: Context, opportunity: Opportunity) -> Deal:
    """The bid's deal as it stands: read in the caller's session (a read or a write).

    Priced once per content: the rows are read every time (a change is never missed), but
    the same content — sites, quotes, quote requests, prices, terms, tier, day and price
    list — gives back the Deal already priced, so the checks, the version, the documents
    and the governance request of one step all read one value.
    """
    catalogue = catalogue_for(ctx.settings.rules_dir)
    opportunity_id = opportunity.id or 0
    sites = site_facts(session, opportunity_id)
    quotes, stale = quote_facts_with_stale(session, opportunity_id)
    requested = requested_site_ids(session, opportunity_id)
    tier = account_of(session, opportunity).tier
    today = ctx.clock().date()
    key = (
        opportunity_id,
        tier,
        today,
        id(catalogue),
        opportunity.currency,
        opportunity.fx_rate,
        opportunity.fx_as_of,
        opportunity.contract_months,
        json.dumps(opportunity.pricing or {}, sort_keys=True, default=str),
        tuple(opportunity.services),
        tuple(opportunity.deviations),
        tuple(sites),
        tuple(sorted(quotes.items())),
        frozenset(requested),
        stale,
    )
    with _PRICED_LOCK:
        held = _PRICED.get(key)
        if held is not None and held[0] is catalogue:
            _PRICED.move_to_end(key)
            return held[1]
    priced = price_bid(opportunity, sites, catalogue)
    coverage = coverage_of(sites, quotes, requested, catalogue, today, stale)
    deal = Deal(
        ref=opportunity.ref,
        tier=tier,
        priced=priced,
        margin=margin_of(priced, quotes, catalogue),
        coverage=coverage,
        deviations=tuple(opportunity.deviations),
        fingerprint=_fingerprint(opportunity, sites, quotes),
        quotes=quotes,
        sites=tuple(sites),
    )
    with _PRICED_LOCK:
        _PRICED[key] = (catalogue, deal)
        while len(_PRICED) > _PRICED_HELD:
            _PRICED.popitem(last=False)
    return deal


def governance_decision_for(ctx: Context, deal: Deal) -> Decision:
    """rules/governance.json on the priced deal: the approvals it needs, or a refusal."""
    from orchestrator.decisions.engine import governance_requirements

    return governance_requirements(ctx.rules, **deal.governance_inputs())
