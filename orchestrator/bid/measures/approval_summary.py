"""What each approver decides on, per area, computed from the bid version's priced deal.

Approvers do not all decide the same thing, so they should not all read the same message:

- **technical**: the design against the customer's ask (the sites we redesigned, grouped by
  why), coverage (countries, access types, sites with firm quotes) and lead times;
- **financial**: the contract value, the margin per country and per service, the loss-making
  lines and their total, the discount, the price against the customer's stated (BANTS)
  budget, and the shortest quote validity against the offer's validity;
- **legal**: the deviations from our standard terms and the terms the customer asked for in
  the questionnaire;
- **management**: all of it, on one page.

Pure: plain values in (the `Deal` and the few facts beside it that `ApprovalFacts` carries),
plain JSON values out; `flags` are the lines that must stand out, worded once here and shown
alike (with the lines of `core.approval_views`) by `bid approval show --area`, the Slack
request and the Bid Control Plan.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from orchestrator.bid.measures.deal import Deal, loss_making_lines
from orchestrator.core.approval_views import AREAS
from orchestrator.decisions.offer_rules import Delivery

SHOWN = 10
"""Rows of a list shown in full (site ids, loss lines); the rest are counted."""


@dataclass(frozen=True)
class Redesign:
    """A site built otherwise than the customer asked: the asked and the designed values of
    the fields that differ, and why."""

    site_id: str
    country: str
    asked: dict[str, Any]
    designed: dict[str, Any]
    reason: str | None = None

    @property
    def why(self) -> str:
        """The reason given, else what changed (e.g. 'access 5g → fiber')."""
        if self.reason:
            return self.reason
        return "; ".join(
            f"{k} {self.asked[k]} → {self.designed.get(k)}" for k in sorted(self.asked)
        )


@dataclass(frozen=True)
class CustomerTerm:
    """A requirement of the customer's questionnaire that legal owns, and our answer."""

    req_id: str
    text: str
    mandatory: bool
    compliance: str | None
    answered: bool


@dataclass(frozen=True)
class ApprovalFacts:
    """What the views need beside the priced deal."""

    budget_eur: float | None = None
    """The customer's stated budget (BANTS), for the whole contract."""
    offer_valid_until: date | None = None
    """Until when the customer may accept our offer (submission + the offer's validity)."""
    offer_validity_days: int | None = None
    redesigns: tuple[Redesign, ...] = ()
    customer_terms: tuple[CustomerTerm, ...] = ()
    delivery: Delivery | None = None
    """rules/delivery.yaml: the lead time of an access type when the carrier quoted none."""
    today: date | None = None


def _money(amount: float) -> str:
    return f"{amount:,.2f} EUR"


def _listed(ids: Iterable[str]) -> list[str]:
    return sorted(ids)[:SHOWN]


def _pct(revenue: float, cost: float) -> float | None:
    return round((revenue - cost) / revenue * 100, 2) if revenue > 0 else None


# --- technical ---------------------------------------------------------------------------------


def technical_view(deal: Deal, facts: ApprovalFacts) -> dict[str, Any]:
    """The design against the customer's ask, coverage and lead times."""
    sites = deal.sites
    groups: dict[str, list[Redesign]] = defaultdict(list)
    for redesign in facts.redesigns:
        groups[redesign.why].append(redesign)
    redesigned = [
        {
            "why": why,
            "sites": len(members),
            "site_ids": _listed(r.site_id for r in members),
            "countries": sorted({r.country for r in members}),
        }
        for why, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    firm_by_country: Counter[str] = Counter()
    today = facts.today
    for site in sites:
        quote = deal.quotes.get(site.site_id)
        if (
            quote is not None
            and quote.kind.value == "firm"
            and (today is None or quote.valid_until >= today)
        ):
            firm_by_country[site.country] += 1
    countries = Counter(site.country for site in sites)
    lead: dict[str, Any] = {}
    if facts.delivery is not None and sites:
        days: dict[str, int] = {}
        by_country: dict[str, int] = {}
        quoted = 0
        for site in sites:
            quote = deal.quotes.get(site.site_id)
            given = quote.delivery_days if quote is not None else None
            quoted += given is not None
            days[site.site_id] = facts.delivery.delivery_days_for(site.access, given)
            by_country[site.country] = max(by_country.get(site.country, 0), days[site.site_id])
        slowest = max(days.values())
        lead = {
            "longest_days": slowest,
            "longest_sites": _listed(s for s, d in days.items() if d == slowest),
            "by_country": dict(sorted(by_country.items())),
            "quoted_by_carrier": quoted,
        }
    coverage = deal.coverage
    flags = []
    if facts.redesigns:
        flags.append(
            f"{len(facts.redesigns):,} of {len(sites):,} sites are not built as the customer "
            f"asked ({len(redesigned)} reason(s))"
        )
    if coverage.unsourced:
        flags.append(f"{len(coverage.unsourced):,} sites have no provider")
    if coverage.firm < coverage.sites:
        flags.append(f"firm quotes for {coverage.firm:,} of {coverage.sites:,} sites")
    return {
        "sites": len(sites),
        "redesigned": {
            "sites": len(facts.redesigns),
            "reasons": len(redesigned),
            "groups": redesigned[: SHOWN * 2],
        },
        "coverage": {
            "countries": [
                {"country": c, "sites": n, "firm": firm_by_country.get(c, 0)}
                for c, n in sorted(countries.items())
            ],
            "access": dict(sorted(Counter(site.access for site in sites).items())),
            "firm": coverage.firm,
            "budgetary": coverage.budgetary,
            "missing": coverage.missing,
            "unsourced": len(coverage.unsourced),
        },
        "lead_times": lead,
        "flags": flags,
    }


# --- financial ---------------------------------------------------------------------------------


def _loss_lines(deal: Deal) -> list[dict[str, Any]]:
    """The quoted sites that cost more than they sell for over the contract, worst first
    (`loss_making_lines`, the list `bid pricing --site` works from), with their service."""
    sites = {site.site_id: site for site in deal.sites}
    margins = {margin.site_id: margin for margin in deal.margin.sites}
    lines: list[dict[str, Any]] = []
    for line in loss_making_lines(deal):
        site, margin = sites.get(line.site_id), margins[line.site_id]
        lines.append(
            {
                "site_id": line.site_id,
                "country": line.country or (site.country if site else None),
                "service": site.service if site else None,
                "revenue_eur": margin.revenue_eur,
                "cost_eur": round(margin.cost_eur or 0.0, 2),
                "loss_eur": line.loss,
            }
        )
    return lines


def _margins_by(deal: Deal, key: str) -> list[dict[str, Any]]:
    """Revenue, cost and margin of the quoted sites grouped by a site field."""
    sites = {site.site_id: site for site in deal.sites}
    revenue: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    counted: Counter[str] = Counter()
    for margin in deal.margin.sites:
        site = sites.get(margin.site_id)
        if site is None or margin.cost_eur is None:
            continue
        name = str(getattr(site, key))
        revenue[name] += margin.revenue_eur
        cost[name] += margin.cost_eur
        counted[name] += 1
    return [
        {
            key: name,
            "sites": counted[name],
            "revenue_eur": round(revenue[name], 2),
            "cost_eur": round(cost[name], 2),
            "margin_pct": _pct(revenue[name], cost[name]),
        }
        for name in sorted(revenue)
    ]


def financial_view(deal: Deal, facts: ApprovalFacts) -> dict[str, Any]:
    """Value, margins where they are made and lost, discount, budget and validity."""
    priced, fx = deal.priced, deal.priced.fx
    tcv = priced.contract_value_eur
    losses = _loss_lines(deal)
    loss_total = round(sum(line["loss_eur"] for line in losses), 2)
    flags: list[str] = []
    budget: dict[str, Any] | None = None
    if facts.budget_eur is not None:
        above = tcv > facts.budget_eur
        budget = {
            "budget_eur": facts.budget_eur,
            "tcv_eur": tcv,
            "above": above,
            "times": round(tcv / facts.budget_eur, 2) if facts.budget_eur > 0 else None,
        }
        if above:
            times = f" ({budget['times']:g}×)" if budget["times"] else ""
            flags.append(
                f"TCV {_money(tcv)} is above the customer's BANTS budget of "
                f"{_money(facts.budget_eur)}{times}"
            )
    validity: dict[str, Any] | None = None
    if deal.quotes:
        shortest = min(deal.quotes.values(), key=lambda q: (q.valid_until, q.site_id))
        short = [q for q in deal.quotes.values() if q.valid_until == shortest.valid_until]
        before = (
            [
                q
                for q in deal.quotes.values()
                if facts.offer_valid_until is not None and q.valid_until < facts.offer_valid_until
            ]
            if facts.offer_valid_until is not None
            else []
        )
        validity = {
            "shortest_quote_until": shortest.valid_until.isoformat(),
            "shortest_sites": _listed(q.site_id for q in short),
            "offer_valid_until": (
                facts.offer_valid_until.isoformat() if facts.offer_valid_until else None
            ),
            "offer_validity_days": facts.offer_validity_days,
            "shorter": bool(before),
            "quotes_ending_before_offer": len(before),
        }
        if before and facts.offer_valid_until is not None:
            flags.append(
                f"the shortest quote validity ({shortest.valid_until.isoformat()}, "
                f"{shortest.site_id} by {shortest.provider}) ends before the offer's validity "
                f"({facts.offer_valid_until.isoformat()}): {len(before):,} quote(s) end first"
            )
    if losses:
        flags.append(
            f"{len(losses):,} loss-making line(s) lose {_money(loss_total)} over the contract"
        )
    margin = deal.margin.margin_pct
    return {
        "currency": fx.currency,
        "tcv": fx.from_eur(tcv),
        "tcv_eur": tcv,
        "monthly_eur": priced.monthly_eur,
        "one_off_eur": priced.one_off_eur,
        "contract_months": priced.contract_months,
        "margin_pct": margin,
        "margin_by_country": _margins_by(deal, "country"),
        "margin_by_service": _margins_by(deal, "service"),
        "loss_lines": {"count": len(losses), "total_eur": loss_total, "worst": losses[:SHOWN]},
        "discount_pct": priced.discount_pct,
        "budget": budget,
        "validity": validity,
        "flags": flags,
    }


# --- legal -------------------------------------------------------------------------------------


def legal_view(deal: Deal, facts: ApprovalFacts) -> dict[str, Any]:
    """Our deviations from the standard terms, and the terms the customer asked for."""
    terms = [
        {
            "req_id": t.req_id,
            "text": t.text if len(t.text) <= 300 else t.text[:299] + "…",
            "mandatory": t.mandatory,
            "compliance": t.compliance,
            "answered": t.answered,
        }
        for t in facts.customer_terms
    ]
    flags = []
    if deal.deviations:
        flags.append(f"{len(deal.deviations)} deviation(s) from our standard terms")
    open_terms = [t for t in facts.customer_terms if not t.answered]
    if open_terms:
        flags.append(f"{len(open_terms)} of the customer's terms have no answer yet")
    refused = [
        t for t in facts.customer_terms if t.mandatory and t.compliance in ("partial", "non_comply")
    ]
    if refused:
        flags.append(
            f"{len(refused)} mandatory term(s) we do not fully meet: "
            + ", ".join(t.req_id for t in refused[:SHOWN])
        )
    return {
        "deviations": list(deal.deviations),
        "customer_terms": terms[: SHOWN * 5],
        "customer_terms_count": len(terms),
        "flags": flags,
    }


# --- all of it ---------------------------------------------------------------------------------


def area_views(deal: Deal, facts: ApprovalFacts) -> dict[str, dict[str, Any]]:
    """Each area's view; management's is the three others on one page."""
    technical = technical_view(deal, facts)
    financial = financial_view(deal, facts)
    legal = legal_view(deal, facts)
    return {
        "technical": technical,
        "financial": financial,
        "legal": legal,
        "management": {
            "flags": [*financial["flags"], *technical["flags"], *legal["flags"]],
            "sections": ["financial", "technical", "legal"],
        },
    }


__all__ = ["AREAS", "ApprovalFacts", "CustomerTerm", "Redesign", "area_views"]
