"""What each document shows, as plain data built from the database rows.

Every document is rendered from a context of plain values (strings, numbers, lists and
dicts): the context is hashed for the document's version, then rendered. User text goes
through `clean` (no control characters Word and Excel refuse); free text meant for a
spreadsheet also through `_csv_text` (no formula). The order sheet's context lives in
`orchestrator.documents.order_sheet`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from orchestrator.commercial.pricing import price_bid
from orchestrator.commercial.qrf import InHouseTask, QrfGroup, QrfLine
from orchestrator.commercial.quotes import current_quotes, ordered_sites
from orchestrator.commercial.service_strategy import ServiceStrategy, strategy_section
from orchestrator.decisions.catalogue import Catalogue, InHouse
from orchestrator.intake.opportunity import OPTIONAL_SITE_COLUMNS, SITE_COLUMNS
from orchestrator.intake.quotes import QUOTE_COLUMNS
from orchestrator.ports import RenderedDocument
from orchestrator.store.models import (
    Account,
    Milestone,
    Opportunity,
    Person,
    QuoteKind,
    Site,
    TeamMember,
)

QRF_CSV_COLUMNS = (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS, *QUOTE_COLUMNS[1:])
"""A QRF's CSV: the site as imported, then the quote columns the provider fills in, so the
filled-in file imports again with `bid quotes import`."""
SENDER = "Sales Support, on behalf of the bid team"
SERVICE_LABELS = {
    "managed_network": "Managed network",
    "hosting": "Hosting",
    "video_conferencing": "Video conferencing",
}
SERVICE_DESCRIPTIONS = {
    "managed_network": (
        "Managed WAN: access line, managed CPE router and 24/7 monitoring per site, "
        "one network across all countries"
    ),
    "hosting": "Managed hosting in our data centres, connected to the customer network",
    "video_conferencing": "Managed video-conferencing rooms with booking and support",
}
ON_REQUEST = "price on request"
"""What a line without a price shows instead of an amount."""
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: object) -> str:
    """User text as a string without the control characters Word and Excel refuse."""
    return _CONTROL_CHARS.sub("", str(text))


def money(amount: float) -> str:
    return f"{amount:,.2f}"


def base_context(session: Session, opportunity: Opportunity, doc_title: str) -> dict[str, Any]:
    """What every document's heading shows."""
    account = session.get(Account, opportunity.account_id)
    return {
        "ref": opportunity.ref,
        "doc_title": doc_title,
        "title": clean(opportunity.title),
        "customer": clean(account.name if account else ""),
    }


# --- QRFs ----------------------------------------------------------------------------------


def qrf_context(base: dict[str, Any], group: QrfGroup, today: date) -> dict[str, Any]:
    """One QRF to one provider for the sites of one country."""
    provider = group.provider
    lines = [_clean_row(line.as_row()) for line in group.lines]
    return {
        **base,
        "qrf_name": group.name,
        "country": group.country,
        "sender": SENDER,
        "provider": {
            "id": provider.id,
            "name": provider.name,
            "contact_name": provider.contact_name,
            "contact_email": provider.contact_email,
            "currency": provider.currency,
            "lead_time_days": provider.lead_time_days,
        },
        "reply_by": (today + timedelta(days=provider.lead_time_days)).isoformat(),
        "site_count": len(lines),
        "budgetary_count": sum(1 for x in group.lines if x.requested == "budgetary"),
        "firm_count": sum(1 for x in group.lines if x.requested == "firm"),
        "lines": lines,
    }


def in_house_task_context(
    base: dict[str, Any], task: InHouseTask, in_house: InHouse, today: date
) -> dict[str, Any]:
    """The internal quote task for the sites of one in-house country."""
    return {
        **base,
        "doc_title": "internal quote task",
        "name": task.name,
        "country": task.country,
        "in_house": {"team": in_house.team, "email": in_house.email},
        "reply_by": (today + timedelta(days=in_house.lead_time_days)).isoformat(),
        "budgetary_count": sum(1 for x in task.lines if x.requested == "budgetary"),
        "firm_count": sum(1 for x in task.lines if x.requested == "firm"),
        "lines": [_clean_row(line.as_row()) for line in task.lines],
    }


def answer_rows(lines: Sequence[QrfLine], provider: str, currency: str) -> list[dict[str, Any]]:
    """The QRF as CSV, ready to be filled in and imported with `bid quotes import`."""
    rows = []
    for line in lines:
        row = line.as_row()
        del row["requested"]
        for key in ("name", "street", "city"):
            row[key] = _csv_text(row[key])
        rows.append(
            {
                **row,
                "provider": provider,
                "kind": line.requested,
                "monthly_cost": "",
                "one_off_cost": "",
                "currency": currency,
                "valid_until": "",
            }
        )
    return rows


UNSOURCED_COLUMNS = (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS, "problem")


def unsourced_rows(lines: Sequence[QrfLine]) -> list[dict[str, Any]]:
    """The sites no provider and no fallback partner quotes, for `unsourced.csv`."""
    rows = []
    for line in lines:
        row = line.as_row()
        del row["requested"]
        for key in ("name", "street", "city"):
            row[key] = _csv_text(row[key])
        rows.append({**row, "problem": f"no provider quotes {line.access} in {line.country}"})
    return rows


# --- proposal, control plan, submission letter ---------------------------------------------


def proposal_context(
    session: Session, opportunity: Opportunity, catalogue: Catalogue
) -> dict[str, Any]:
    """Everything the proposal shows, as plain data (its hash is the proposal version).

    Amounts are in the bid's currency at its recorded rate; a line without a price says
    "price on request", never 0.00 (and bid production does not end while one is left).
    """
    opportunity_id = opportunity.id or 0
    sites = ordered_sites(session, opportunity_id)
    quotes = current_quotes(session, opportunity_id)
    pricing = opportunity.pricing or {}
    priced = price_bid(opportunity, sites, catalogue)
    fx = priced.fx
    currency = fx.currency
    months = priced.contract_months
    rows: list[dict[str, Any]] = []
    by_country: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_service: dict[str, list[Site]] = defaultdict(list)
    for site, line in zip(sites, priced.lines, strict=False):
        bucket = by_country[site.country]
        bucket[0] += 1
        bucket[1] += line.monthly_eur
        bucket[2] += line.one_off_eur
        by_service[site.service].append(site)
        rows.append(
            {
                "site_id": clean(site.site_id),
                "name": clean(site.name),
                "city": clean(site.city),
                "country": site.country,
                "service": SERVICE_LABELS.get(site.service, site.service),
                "access": site.access,
                "bandwidth_mbps": site.bandwidth_mbps,
                "monthly": money(fx.from_eur(line.monthly_eur)) if line.priced else ON_REQUEST,
                "one_off": money(fx.from_eur(line.one_off_eur)) if line.priced else ON_REQUEST,
            }
        )
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
            "sites": len(members),
            "access_mix": ", ".join(
                f"{access} {count}"
                for access, count in sorted(Counter(s.access for s in members).items())
            ),
        }
        for service, members in sorted(by_service.items())
    ]
    services += [
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
    strategy = ServiceStrategy.from_text(opportunity.strategy)
    waves = [
        {
            "wave": index,
            "country": country,
            "sites": int(values[0]),
            "start": f"week {4 + 3 * (index - 1)} after signature",
        }
        for index, (country, values) in enumerate(country_rows, start=1)
    ]
    budgetary = sum(
        1 for s in sites if (q := quotes.get(s.site_id)) and q.kind == QuoteKind.BUDGETARY
    )
    missing = sum(1 for s in sites if s.site_id not in quotes)
    assumptions = [
        f"Prices are in {currency}, excluding VAT and local taxes.",
        f"Contract term of {months} months from the signature date.",
    ]
    if currency != "EUR":
        assumptions.append(
            f"Converted from our EUR list prices at 1 {currency} = {fx.rate:g} EUR "
            f"(rates of {fx.as_of})."
        )
    assumptions += [
        "Site addresses and bandwidths as listed in section 3; changes are MACDs.",
        "The customer gives access to each site for surveys and installation.",
    ]
    if budgetary:
        assumptions.append(
            f"{budgetary} site(s) are priced on budgetary quotes, subject to firm quotes."
        )
    if missing:
        assumptions.append(f"{missing} site(s) await a supplier quote; prices may change.")
    if priced.unpriced:
        assumptions.append(
            f"{len(priced.unpriced)} line(s) have no list price and are priced on request."
        )
    discount = float(pricing.get("discount_pct", 0.0))
    return {
        **base_context(session, opportunity, "Proposal"),
        "currency": currency,
        "services_text": clean(services_text),
        "site_count": len(sites),
        "country_count": len(by_country),
        "contract_months": months,
        "discount_text": f", including a {discount:g}% discount" if discount else "",
        "totals": {
            "monthly": money(fx.from_eur(priced.monthly_eur)),
            "one_off": money(fx.from_eur(priced.one_off_eur)),
            "contract": money(fx.from_eur(priced.contract_value_eur)),
        },
        "services": services,
        "sites": rows,
        "bid_lines": bid_lines,
        "pricing": [
            {
                "country": country,
                "sites": int(values[0]),
                "monthly": money(fx.from_eur(values[1])),
                "one_off": money(fx.from_eur(values[2])),
                "contract": money(fx.from_eur(values[1] * months + values[2])),
            }
            for country, values in country_rows
        ],
        "strategy": strategy_section(strategy, sorted({s.access for s in sites})),
        "transition_intro": _transition_intro(opportunity.incumbent),
        "waves": waves,
        "assumptions": assumptions,
    }


def control_plan_context(session: Session, opportunity: Opportunity) -> dict[str, Any]:
    """The Bid Control Plan: milestones with their owners, and the bid team."""
    opportunity_id = opportunity.id or 0
    members = session.exec(
        select(TeamMember, Person)
        .where(TeamMember.opportunity_id == opportunity_id)
        .where(TeamMember.person_id == Person.id)
    ).all()
    owners: dict[str, list[str]] = defaultdict(list)
    team = []
    for member, person in sorted(members, key=lambda mp: (mp[0].role, mp[1].name)):
        owners[member.role].append(clean(person.name))
        team.append({"role": member.role, "name": clean(person.name), "email": clean(person.email)})
    milestones = session.exec(
        select(Milestone).where(Milestone.opportunity_id == opportunity_id)
    ).all()
    rows = [
        {
            "name": clean(m.name),
            "due": minute(m.due_at),
            "owner_role": m.owner_role,
            "owners": ", ".join(owners.get(m.owner_role, [])) or "(unassigned)",
            "status": m.status,
            "completed": minute(m.completed_at) if m.completed_at else "",
        }
        for m in sorted(milestones, key=lambda m: (minute(m.due_at), m.name))
    ]
    return {
        **base_context(session, opportunity, "Bid Control Plan"),
        "deadline": opportunity.submission_deadline.isoformat(),
        "state": opportunity.state,
        "milestones": rows,
        "team": team,
    }


def submission_letter_context(
    session: Session, opportunity: Opportunity, proposal: RenderedDocument, today: date
) -> dict[str, Any]:
    """The cover letter of the submission, naming the enclosed proposal and its hash."""
    sites = ordered_sites(session, opportunity.id or 0)
    return {
        **base_context(session, opportunity, "Submission letter"),
        "rfp_text": f" (your reference {clean(opportunity.rfp_reference)})"
        if opportunity.rfp_reference
        else "",
        "date": today.isoformat(),
        "site_count": len(sites),
        "country_count": len({s.country for s in sites}),
        "proposal_hash": proposal.content_hash,
        "sender": SENDER,
        "enclosures": [
            {
                "title": "Proposal",
                "file": proposal.path.name,
                "hash": proposal.content_hash,
            }
        ],
    }


# --- helpers -------------------------------------------------------------------------------


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v) if isinstance(v, str) else v for k, v in row.items()}


def _csv_text(value: str) -> str:
    """Free text for spreadsheets: a leading = + - @ would run as a formula, so quote it."""
    text = clean(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def minute(moment: datetime | date) -> str:
    """A moment as the documents show it: to the minute, or the plain date."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def _transition_intro(incumbent: bool) -> str:
    if incumbent:
        return (
            "We already serve these sites: there is no migration from another provider. "
            "Upgrades are planned country by country, each with one planned interruption "
            "outside business hours."
        )
    return (
        "Sites migrate from the current provider country by country. Each site has one "
        "planned interruption of at most four hours outside business hours; the old line "
        "stays in service until the new one is accepted."
    )
