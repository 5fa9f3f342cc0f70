"""What the proposal shows the customer, as plain data: written for them, not for us.

No hashes and no words of our own workflow: the version is a label ("version 3 — 10 January
2027", given by the renderer), the signature a person of the bid team. The cover carries our
name and logo (rules/proposal.yaml), the customer, the title and their RFP reference; a table
of contents follows. The service strategy chosen at kick-off adds its optional section
(quality of service, cost transparency), numbered in the template's order; service levels are
always there; the compliance section appears when a questionnaire was imported (its matrix is
an annex, and an .xlsx beside the proposal).
Accepted answers are written into the body, each in the section it belongs to
(`answer_sections`), the rest under "Our solution" grouped by the customer's sections. The
deviations from the standard terms appear in the terms section and in every answer that
speaks of deviations or terms: what legal approved is what the customer reads.
Prices are summed per country and per service in the body; the price of every site is an
.xlsx annex (and a table in an appendix for at most `SITE_TABLE_MAX` sites). A line without a
price says "price on request", never 0.00.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session, col, select

from orchestrator.commercial.pricing import PricedBid, price_bid
from orchestrator.commercial.quotes import QuoteFacts, SiteFacts, quote_facts, site_facts
from orchestrator.commercial.transition import (
    SiteDelivery,
    expected_order_date,
    provider_names,
    transition_waves,
)
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.decisions.offer_rules import (
    ALWAYS_SECTIONS,
    ANSWER_SECTIONS,
    SECTION_ORDER,
    load_delivery,
    load_proposal_rules,
)
from orchestrator.documents.text import (
    SERVICE_DESCRIPTIONS,
    SERVICE_LABELS,
    base_context,
    clean,
    long_date,
    money,
    signatory,
)
from orchestrator.store.models import (
    Compliance,
    LibraryAnswer,
    Opportunity,
    QuoteKind,
    Requirement,
)

ON_REQUEST = "price on request"
"""What a line without a price shows instead of an amount."""
SITE_TABLE_MAX = 200
"""Up to this many sites, the per-site prices are also a table in an appendix; above it,
the .xlsx annex alone carries them (a 3,200-row table would be 175 pages)."""
UNSETTLED_STATES = frozenset({"open", "draft"})
"""Requirement states (where the model records one) whose answer is not yet ours to send:
a draft stays with its owner, the customer reads the requirement as open."""
MAX_OVERVIEW, MAX_REFERENCES = 3, 6
"""At most this many library answers tagged company / references (in id order) on "About us"."""
COMPANY_TAGS = frozenset({"company", "company overview", "about us"})
REFERENCE_TAGS = frozenset({"references", "reference", "customer references"})
ABOUT_US_ORDER = (
    frozenset({"overview", "profile"}),
    frozenset({"coverage", "footprint", "presence"}),
    frozenset({"certification", "accreditation"}),
)
"""Which company answers "About us" tells first: who we are, where, what certifies us."""
REFERS_TO_TERMS = re.compile(r"deviat|terms and conditions|general terms|contract terms", re.I)
"""An answer (or its requirement) that speaks of deviations or terms carries the deviations."""
COMPLIANCE_LABELS = {
    Compliance.COMPLY: "Comply",
    Compliance.PARTIAL: "Partial",
    Compliance.NON_COMPLY: "Non-comply",
    Compliance.NOT_APPLICABLE: "N/A",
}
ACCESS_LABELS = {
    "fiber": "fibre",
    "copper": "copper",
    "wireless": "fixed wireless",
    "4g": "4G",
    "5g": "5G",
}


class PricedDeal(Protocol):
    """What the proposal reads of the bid's priced deal (`orchestrator.bid.measures.deal.Deal`)."""

    @property
    def sites(self) -> Sequence[SiteFacts]: ...
    @property
    def quotes(self) -> Mapping[str, QuoteFacts]: ...
    @property
    def priced(self) -> PricedBid: ...


@dataclass(frozen=True)
class RowsDeal:
    """The deal priced from the rows, for a renderer called without a version."""

    sites: Sequence[SiteFacts]
    quotes: Mapping[str, QuoteFacts]
    priced: PricedBid
    deviations: tuple[str, ...] = ()


def deal_from_rows(session: Session, opportunity: Opportunity, catalogue: Catalogue) -> RowsDeal:
    """The sites, the quotes that count and the priced lines, read and priced here."""
    sites = site_facts(session, opportunity.id or 0)
    return RowsDeal(
        sites,
        quote_facts(session, opportunity.id or 0),
        price_bid(opportunity, sites, catalogue),
        tuple(opportunity.deviations),
    )


OFFERED_ALTERNATIVE = "offered alternative"
"""How the proposal and the compliance matrix mark a site we offer another access for."""


def alternative_rows(sites: Sequence[SiteFacts]) -> list[dict[str, Any]]:
    """One compliance-matrix row per site where we offer another access than asked: what the
    customer asked, and what we offer instead (`bid design propose`)."""
    rows = []
    for site in sites:
        if not site.asked_access:
            continue
        asked = ACCESS_LABELS.get(site.asked_access, site.asked_access)
        offered = ACCESS_LABELS.get(site.access, site.access)
        rows.append(
            {
                "id": clean(f"SITE {site.site_id}"),
                "section": "Sites",
                "text": clean(
                    f"Site {site.site_id} ({site.city}): {asked} at "
                    f"{site.asked_bandwidth_mbps} Mbit/s"
                ),
                "mandatory": "",
                "compliance": OFFERED_ALTERNATIVE.capitalize(),
                "answer": clean(
                    f"We offer {offered} at {site.bandwidth_mbps} Mbit/s: {asked} does not "
                    f"carry {site.asked_bandwidth_mbps} Mbit/s at this site."
                ),
            }
        )
    return rows


def compliance_rows(
    session: Session, opportunity_id: int, deviations: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The compliance matrix: every requirement with our compliance and answer; an answer
    that speaks of deviations or terms names the deviations (and complies partially)."""
    rows = session.exec(
        select(Requirement)
        .where(Requirement.opportunity_id == opportunity_id)
        .order_by(col(Requirement.position))
    ).all()
    listed = deviations_sentence(deviations)
    out = []
    for r in rows:
        unsettled = str(getattr(r, "state", "") or "") in UNSETTLED_STATES
        answer = "" if unsettled else clean(r.answer or "")
        compliance = "Open" if unsettled or not r.compliance else _compliance_label(r.compliance)
        if listed and answer and REFERS_TO_TERMS.search(f"{r.text} {answer}"):
            answer = f"{answer} {listed}"
            compliance = "Partial" if compliance == "Comply" else compliance
        out.append(
            {
                "id": clean(r.req_id),
                "section": clean(r.section),
                "text": clean(r.text),
                "mandatory": "M" if r.mandatory else "",
                "compliance": compliance,
                "answer": answer,
                "library": r.library_answer or "",
            }
        )
    return out


def _compliance_label(value: object) -> str:
    """How the customer reads a compliance ("Comply", "Partial", "To review"), never a code."""
    known = COMPLIANCE_LABELS.get(value)  # type: ignore[call-overload]
    return known or str(value).replace("_", " ").capitalize()


def deviations_sentence(deviations: Sequence[str]) -> str:
    """The deviations as one sentence an answer carries ("" when the terms are standard)."""
    if not deviations:
        return ""
    items = "; ".join(f"({n}) {clean(d).rstrip('.')}" for n, d in enumerate(deviations, 1))
    return f"Our deviations from your terms: {items}."


def _library(session: Session) -> list[LibraryAnswer]:
    return list(session.exec(select(LibraryAnswer).order_by(col(LibraryAnswer.answer_id))).all())


def _tagged(entries: Sequence[LibraryAnswer], tags: frozenset[str]) -> list[LibraryAnswer]:
    return [e for e in entries if {t.lower() for t in e.tags} & tags]


def _about_us(entries: Sequence[LibraryAnswer]) -> list[LibraryAnswer]:
    """The company answers "About us" tells, the overview first (tagged overview/profile),
    then the coverage and certifications, then the rest, each group in the library's order."""

    def rank(entry: LibraryAnswer) -> int:
        tags = {t.lower() for t in entry.tags}
        return next(
            (n for n, kind in enumerate(ABOUT_US_ORDER) if tags & kind), len(ABOUT_US_ORDER)
        )

    return sorted(_tagged(entries, COMPANY_TAGS), key=rank)


def place_answers(
    rows: Sequence[dict[str, Any]],
    tags: Mapping[str, Sequence[str]],
    placing: Mapping[str, Sequence[str]],
    present: set[str],
) -> dict[str, list[dict[str, Any]]]:
    """Accepted answers per proposal section, grouped by the customer's section: the first
    section of `placing` whose words occur in the requirement's section or its library
    answer's tags (and which the proposal carries); else "solution"."""
    placed: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(dict)
    for row in rows:
        if not row["answer"]:
            continue
        where = " ".join([row["section"], *tags.get(row["library"], ())]).lower()
        target = next(
            (
                section
                for section, words in placing.items()
                if section in present and any(w in where for w in words)
            ),
            "solution",
        )
        group = row["section"] or "General"
        placed[target].setdefault(group, []).append(
            {"id": row["id"], "question": row["text"], "answer": row["answer"]}
        )
    return {
        section: [{"title": title, "entries": entries} for title, entries in groups.items()]
        for section, groups in placed.items()
    }


def _sections(present: set[str], titles: dict[str, str]) -> dict[str, Any]:
    """Per section: its number ("3") when present, else "" (the template skips it)."""
    numbers: dict[str, Any] = {}
    number = 0
    for name in SECTION_ORDER:
        if name in present:
            number += 1
            numbers[name] = str(number)
        else:
            numbers[name] = ""
    numbers["titles"] = titles
    return numbers


def proposal_context(
    session: Session,
    opportunity: Opportunity,
    catalogue: Catalogue,
    rules_dir: Path,
    deal: PricedDeal | None = None,
) -> dict[str, Any]:
    """Everything the proposal shows (the renderer adds the version label), from the
    version's priced deal — priced once by the bid layer, never again here."""
    opportunity_id = opportunity.id or 0
    deal = deal or deal_from_rows(session, opportunity, catalogue)
    sites, quotes, priced = deal.sites, deal.quotes, deal.priced
    pricing = opportunity.pricing or {}
    fx, currency, months = priced.fx, priced.fx.currency, priced.contract_months
    delivery = load_delivery(rules_dir)
    proposal_rules = load_proposal_rules(rules_dir)
    deviations = tuple(getattr(deal, "deviations", opportunity.deviations))
    requirements = compliance_rows(session, opportunity_id, deviations)

    rows: list[dict[str, Any]] = []
    by_country: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_service: dict[str, list[Any]] = defaultdict(list)
    service_money: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_band: dict[tuple[str, int], list[Any]] = defaultdict(list)
    sla_use: dict[str, set[str]] = defaultdict(set)
    for site, line in zip(sites, priced.lines, strict=False):
        bucket = by_country[site.country]
        bucket[0] += 1
        bucket[1] += line.monthly_eur
        bucket[2] += line.one_off_eur
        by_service[site.service].append(site)
        money_row = service_money[SERVICE_LABELS.get(site.service, site.service)]
        money_row[0] += 1
        money_row[1] += line.monthly_eur if line.priced else 0.0
        money_row[2] += line.one_off_eur if line.priced else 0.0
        by_band[(site.access, site.bandwidth_mbps)].append(line)
        sla = delivery.sla_class_for(site.access, site.sla_class)
        sla_use[sla.name].add(ACCESS_LABELS.get(site.access, site.access))
        rows.append(
            {
                "site_id": clean(site.site_id),
                "name": clean(site.name),
                "city": clean(site.city),
                "country": site.country,
                "service": SERVICE_LABELS.get(site.service, site.service),
                "access": ACCESS_LABELS.get(site.access, site.access)
                + (f" ({OFFERED_ALTERNATIVE})" if site.asked_access else ""),
                "bandwidth_mbps": site.bandwidth_mbps,
                "sla": sla.name.title(),
                "monthly": money(fx.from_eur(line.monthly_eur)) if line.priced else ON_REQUEST,
                "one_off": money(fx.from_eur(line.one_off_eur)) if line.priced else ON_REQUEST,
                "monthly_amount": fx.from_eur(line.monthly_eur) if line.priced else None,
                "one_off_amount": fx.from_eur(line.one_off_eur) if line.priced else None,
            }
        )
    contract_lines = [
        {
            "label": f"{SERVICE_LABELS.get(line.service, line.service)} (whole contract)",
            "monthly_amount": fx.from_eur(line.monthly_eur) if line.priced else None,
            "one_off_amount": fx.from_eur(line.one_off_eur) if line.priced else None,
        }
        for line in priced.lines
        if line.kind == "bid"
    ]
    for line in priced.lines:
        if line.kind == "bid":
            money_row = service_money[SERVICE_LABELS.get(line.service, line.service)]
            money_row[1] += line.monthly_eur if line.priced else 0.0
            money_row[2] += line.one_off_eur if line.priced else 0.0
    bid_lines = [
        f"{SERVICE_LABELS.get(line.service, line.service)} (for the whole contract): "
        + (
            f"{money(fx.from_eur(line.monthly_eur))} {currency} monthly, "
            f"{money(fx.from_eur(line.one_off_eur))} {currency} one-off"
            if line.priced
            else ON_REQUEST
        )
        for line in priced.lines
        if line.kind == "bid"
    ]
    services = [
        {
            "label": SERVICE_LABELS.get(service, service),
            "description": SERVICE_DESCRIPTIONS.get(service, ""),
            "sites": str(len(members)),
            "access_mix": ", ".join(
                f"{ACCESS_LABELS.get(access, access)} {count}"
                for access, count in sorted(Counter(s.access for s in members).items())
            ),
        }
        for service, members in sorted(by_service.items())
    ] + [
        {
            "label": SERVICE_LABELS.get(line.service, line.service),
            "description": SERVICE_DESCRIPTIONS.get(line.service, ""),
            "sites": "all",
            "access_mix": "",
        }
        for line in priced.lines
        if line.kind == "bid"
    ]
    requested = [SERVICE_LABELS.get(s, s).lower() for s in opportunity.services]
    services_text = ", ".join(requested or [SERVICE_LABELS.get(k, k).lower() for k in by_service])
    country_rows = sorted(by_country.items(), key=lambda kv: (-kv[1][0], kv[0]))

    strategy = proposal_rules.strategies.get(opportunity.service_strategy or "")
    present = set(strategy.sections if strategy else ()) | set(ALWAYS_SECTIONS)
    if requirements or any(site.asked_access for site in sites):
        present.add("compliance")

    names = {p.id: p.name for p in catalogue.providers.providers}
    order_date = expected_order_date(
        opportunity.contract_start,
        opportunity.decision_date,
        opportunity.submission_deadline,
        delivery,
    )
    deliveries = []
    for site in sites:
        quote = quotes.get(site.site_id)
        routed = quote.provider if quote else catalogue.providers.routed_provider(
            site.country, site.access
        ) or ""  # fmt: skip
        deliveries.append(
            SiteDelivery(
                site.site_id,
                site.country,
                site.access,
                provider_names(names, routed) if routed else "",
                quote.delivery_days if quote else None,
                site.requested_install_date,
            )
        )
    waves = [
        {
            "wave": str(w.wave),
            "country": w.country,
            "sites": str(w.sites),
            "carriers": ", ".join(w.carriers) or "to be confirmed",
            "lead_time": f"{w.lead_time_days} working days",
            "starts": long_date(w.starts),
            "completed": long_date(w.completed),
        }
        for w in transition_waves(deliveries, order_date, delivery)
    ]

    budgetary = sum(
        1 for s in sites if (q := quotes.get(s.site_id)) and q.kind == QuoteKind.BUDGETARY
    )
    assumptions = [
        f"Prices are in {currency}, excluding VAT and local taxes.",
        f"The contract runs for {months} months from the contract start.",
    ]
    if currency != "EUR":
        assumptions.append(
            f"Amounts were converted from EUR at 1 {currency} = {fx.rate:g} EUR "
            f"(rates of {fx.as_of})."
        )
    assumptions += [
        "Site addresses and bandwidths as listed in the pricing schedule; later changes are "
        "ordered as moves, adds, changes and deletes.",
        "You give access to each site for surveys and installation.",
        f"Delivery dates count working days from an order on {long_date(order_date)}; they "
        "move with the actual contract start.",
    ]
    if budgetary:
        assumptions.append(
            f"Prices of {budgetary} site(s) are confirmed after the site survey and may change."
        )
    if priced.unpriced:
        assumptions.append(f"{len(priced.unpriced)} line(s) are priced on request.")

    sla_rows = [
        {
            "name": cls.name.title(),
            "access": ", ".join(sorted(sla_use[cls.name])),
            "availability": cls.availability,
            "repair": cls.repair,
            "window": cls.service_window,
        }
        for cls in delivery.sla_classes.values()
        if cls.name in sla_use
    ]
    breakdown = [
        {
            "access": ACCESS_LABELS.get(access, access),
            "mbps": str(mbps),
            "sites": str(len(lines)),
            "monthly": money(fx.from_eur(lines[0].monthly_eur)) if lines[0].priced else ON_REQUEST,
            "one_off": money(fx.from_eur(lines[0].one_off_eur)) if lines[0].priced else ON_REQUEST,
        }
        for (access, mbps), lines in sorted(by_band.items())
    ]
    discount = float(pricing.get("discount_pct", 0.0))
    compliance_counts = Counter(r["compliance"] for r in requirements)
    base = base_context(session, opportunity, "Proposal")
    library = _library(session)
    company = proposal_rules.company
    overview = [clean(e.answer) for e in _about_us(library)[:MAX_OVERVIEW]] or [company.overview]
    references = [
        {"title": clean(e.question), "text": clean(e.answer)}
        for e in _tagged(library, REFERENCE_TAGS)[:MAX_REFERENCES]
    ]
    sections = _sections(present, proposal_rules.titles)
    toc = [f"{sections[n]}. {proposal_rules.titles[n]}" for n in SECTION_ORDER if sections[n]]
    if len(rows) <= SITE_TABLE_MAX:
        toc.append("Appendix — Pricing per site")
    if requirements:
        toc.append("Annex A — Compliance matrix")
    answers = place_answers(
        requirements,
        {e.answer_id: tuple(e.tags) for e in library},
        proposal_rules.answer_sections,
        present,
    )
    lead = signatory(session, opportunity)
    return {
        **base,
        "company": {
            "name": clean(company.name),
            "address": clean(company.address),
            "logo": company.logo,
            "overview": overview,
            "references": references,
        },
        "toc": "\n".join(toc),
        "answers": {name: answers.get(name, []) for name in ANSWER_SECTIONS},
        "terms": [clean(t) for t in proposal_rules.terms],
        "deviations": [clean(d) for d in deviations],
        "validity_days": proposal_rules.validity_days,
        "signature": {"ours": lead, "company": clean(company.name)},
        "rfp_reference": clean(opportunity.rfp_reference or ""),
        "prepared_by": lead,
        "currency": currency,
        "services_text": clean(services_text),
        "site_count": len(sites),
        "country_count": len(by_country),
        "contract_months": months,
        "discount_text": f", including a {discount:g}% discount" if discount else "",
        "strategy": {
            "label": strategy.label if strategy else "",
            "pitch": strategy.pitch if strategy else "",
        },
        "win_themes": [clean(t) for t in opportunity.win_themes],
        "sections": sections,
        "totals": {
            "monthly": money(fx.from_eur(priced.monthly_eur)),
            "one_off": money(fx.from_eur(priced.one_off_eur)),
            "contract": money(fx.from_eur(priced.contract_value_eur)),
        },
        "services": services,
        "sites": rows if len(rows) <= SITE_TABLE_MAX else [],
        "schedule": {"sites": rows, "contract_lines": contract_lines},
        "annex_name": f"pricing-schedule-{opportunity.ref}.xlsx",
        "bid_lines": bid_lines,
        "service_pricing": [
            {
                "service": label,
                "sites": str(int(values[0])) if values[0] else "all",
                "monthly": money(fx.from_eur(values[1])),
                "one_off": money(fx.from_eur(values[2])),
                "contract": money(fx.from_eur(values[1] * months + values[2])),
            }
            for label, values in sorted(service_money.items())
        ],
        "pricing": [
            {
                "country": country,
                "sites": str(int(values[0])),
                "monthly": money(fx.from_eur(values[1])),
                "one_off": money(fx.from_eur(values[2])),
                "contract": money(fx.from_eur(values[1] * months + values[2])),
            }
            for country, values in country_rows
        ],
        "service_levels": {**proposal_rules.blocks["service_levels"], "classes": sla_rows},
        "quality_of_service": proposal_rules.blocks["quality_of_service"],
        "cost_breakdown": {**proposal_rules.blocks["cost_breakdown"], "bands": breakdown},
        "transition_intro": _transition_intro(opportunity.incumbent),
        "waves": waves,
        "compliance": {
            "total": len(requirements),
            "mandatory": sum(1 for r in requirements if r["mandatory"]),
            "counts": ", ".join(
                f"{label.lower()} {compliance_counts[label]}"
                for label in (*COMPLIANCE_LABELS.values(), "Open")
                if compliance_counts[label]
            ),
            "rows": requirements + alternative_rows(sites),
        },
        "assumptions": assumptions,
    }


def _transition_intro(incumbent: bool) -> str:
    """How the plan is told: we serve the sites today (incumbent) or take them over."""
    if incumbent:
        return (
            "We already run your network: your sites stay in service with us throughout. "
            "Changes are made country by country, in the waves below: new access lines and "
            "routers where the design changes, each site with one planned interruption of at "
            "most four hours outside business hours. A wave starts when the access lines of "
            "its country are delivered (the carriers' lead times, in working days of the "
            "country), one country after another."
        )
    return (
        "Sites move from your current provider country by country. Each site has one planned "
        "interruption of at most four hours outside business hours; the old line stays in "
        "service until the new one is accepted. A wave starts when the access lines of its "
        "country are delivered (the carriers' lead times, in working days of the country), "
        "one country after another."
    )


def version_label(number: int, day: date) -> str:
    """ "version 3 — 10 January 2027": how the customer tells versions apart."""
    return f"version {number} — {long_date(day)}"
