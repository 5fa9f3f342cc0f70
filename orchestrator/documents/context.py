"""What each document shows, as plain data built from the database rows.

Every document is rendered from a context of plain values (strings, numbers, lists and
dicts): the context is hashed for the document's version, then rendered. User text goes
through `clean` (no control characters Word and Excel refuse); text meant for a
spreadsheet is neutralised when written (`text.spreadsheet_cell`). The proposal's context
lives in `orchestrator.documents.proposal`, the order sheet's in
`orchestrator.documents.order_sheet`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.commercial.calendar import add_working_days
from orchestrator.commercial.qrf import (
    Amendment,
    QrfLine,
    qrf_reference,
    reply_by_date,
    request_hash,
)
from orchestrator.commercial.qrf import split_requested as split
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.decisions.offer_rules import Delivery, load_delivery
from orchestrator.documents import text
from orchestrator.intake.opportunity import OPTIONAL_SITE_COLUMNS, SITE_COLUMNS
from orchestrator.intake.quotes import OPTIONAL_QUOTE_COLUMNS, QUOTE_COLUMNS
from orchestrator.store.models import (
    Milestone,
    Opportunity,
    Person,
    QuoteRequest,
    TeamMember,
)

QRF_COLUMNS = ("qrf_reference", "reply_by", "contract_months")
QRF_CSV_COLUMNS = (
    *SITE_COLUMNS,
    *OPTIONAL_SITE_COLUMNS,
    "customer_asked",
    *QRF_COLUMNS,
    *QUOTE_COLUMNS[1:],
    *OPTIONAL_QUOTE_COLUMNS,
)
"""A QRF's CSV: the site as designed (with its SLA class, interface, resilience, install
date and contact; `customer_asked` when we propose another access than the customer asked),
the QRF's reference, reply-by date and contract term, then the quote
columns the carrier fills in, so the filled-in file imports again with `bid quotes import`."""
UNSOURCED_COLUMNS = (*SITE_COLUMNS, *OPTIONAL_SITE_COLUMNS, "problem")
SERVICE_LABELS = text.SERVICE_LABELS
clean, money, base_context = text.clean, text.money, text.base_context
QRF_SIGNERS = ("sales_support", "bid_manager", "account_manager", "solution_consultant")
STATE_LABELS = {
    "pre_qualification": "Pre-qualification",
    "qualification": "Qualification",
    "strategy_rework": "Strategy rework",
    "kick_off": "Kick-off",
    "bid_production": "Bid production",
    "governance_review": "Governance review",
    "submission": "Submission",
    "customer_decision": "Customer decision",
    "contract_preparation": "Contract preparation",
    "contracted": "Contracted",
    "no_bid": "No bid",
    "lost": "Lost",
    "withdrawn": "Withdrawn",
}


# --- QRFs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrfVersion:
    """A QRF's reference and reply-by date: as recorded when it was sent, else as it would be."""

    reference: str
    reply_by: date
    recorded: bool


def qrf_version(
    session: Session,
    opportunity: Opportunity,
    name: str,
    lines: Sequence[QrfLine],
    today: date,
    lead_time_days: int,
    country: str,
) -> QrfVersion:
    """The version of this request: its place among the requests of the same name recorded
    for the bid (the same sites and kinds are the same version), with its reply-by date."""
    budgetary, firm = split(lines)
    digest = request_hash(budgetary, firm)
    recorded = session.exec(
        select(QuoteRequest)
        .where(QuoteRequest.opportunity_id == opportunity.id, QuoteRequest.name == name)
        .order_by(col(QuoteRequest.id))
    ).all()
    for number, row in enumerate(recorded, start=1):
        if row.content_hash == digest:
            return QrfVersion(qrf_reference(opportunity.ref, name, number), row.reply_by, True)
    return QrfVersion(
        qrf_reference(opportunity.ref, name, len(recorded) + 1),
        reply_by_date(today, lead_time_days, country),
        False,
    )


def _milestone_due(session: Session, opportunity: Opportunity, name: str) -> date | None:
    row = session.exec(
        select(Milestone).where(Milestone.opportunity_id == opportunity.id, Milestone.name == name)
    ).first()
    return row.due_at.date() if row else None


def _site_lines(
    lines: Sequence[QrfLine], reply_by: date, delivery: Delivery, quote_name: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The sites as a carrier reads them, and the install dates its lead time cannot meet."""
    rows, problems = [], []
    for line in lines:
        sla = delivery.sla_class_for(line.access, line.sla_class)
        resilience = delivery.resilience_for(line.resilience)
        days = delivery.delivery_days_for(line.access, None)
        earliest = add_working_days(reply_by, days, line.country)
        check = ""
        wanted = line.requested_install_date
        if wanted is not None and wanted < earliest:
            check = f"install date before the earliest delivery {earliest.isoformat()}"
            problems.append(
                f"{quote_name}: site {line.site_id} asks for installation on "
                f"{wanted.isoformat()}, before the earliest delivery {earliest.isoformat()} "
                f"(reply by {reply_by.isoformat()} + {days} working days in {line.country})"
            )
        contact = ", ".join(
            clean(v) for v in (line.contact_name, line.contact_phone, line.contact_email) if v
        )
        rows.append(
            {
                **{k: clean(v) if isinstance(v, str) else v for k, v in line.as_row().items()},
                "install": wanted.isoformat() if wanted else "as soon as possible",
                "sla": f"{sla.name} ({sla.availability}, repair {sla.repair})",
                "sla_class": sla.name,
                "interface": delivery.interface_for(line.bandwidth_mbps, line.interface),
                "resilience": resilience,
                "contact": contact or "to be confirmed",
                "earliest": earliest.isoformat(),
                "check": check,
                "requested": f"{line.requested} — {line.change}" if line.change else line.requested,
            }
        )
    return rows, problems


def qrf_context(
    session: Session,
    opportunity: Opportunity,
    *,
    name: str,
    country: str,
    to: dict[str, Any],
    lines: Sequence[QrfLine],
    today: date,
    lead_time_days: int,
    rules_dir: Path,
    amendment: Amendment | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """One QRF (to a provider, or an internal quote task) and the problems it shows; an
    amendment says so, marks each line (changed or new) and lists the lines it withdraws."""
    delivery = load_delivery(rules_dir)
    version = qrf_version(session, opportunity, name, lines, today, lead_time_days, country)
    rows, problems = _site_lines(lines, version.reply_by, delivery, name)
    budgetary = sum(1 for x in lines if x.requested == "budgetary")
    firm = len(lines) - budgetary
    for kind, milestone in (("budgetary", "budgetary_quotes_in"), ("firm", "firm_quotes_in")):
        due = _milestone_due(session, opportunity, milestone)
        asked = budgetary if kind == "budgetary" else firm
        if asked and due is not None and version.reply_by > due:
            problems.append(
                f"{name}: reply by {version.reply_by.isoformat()} is after the {kind} quotes "
                f"milestone ({due.isoformat()})"
            )
    return {
        **base_context(session, opportunity, "Quote Request Form"),
        "qrf_name": name,
        "qrf_reference": version.reference,
        "country": country,
        "sender": text.signatory(session, opportunity, QRF_SIGNERS),
        "provider": to,
        "reply_by": version.reply_by.isoformat(),
        "contract_months": opportunity.contract_months,
        "site_count": len(lines),
        "budgetary_count": budgetary,
        "firm_count": firm,
        "lines": rows,
        "warnings": [clean(p) for p in problems],
        "amendment": (
            {
                "number": amendment.number,
                "amends": amendment.amends,
                "withdrawn": list(amendment.withdrawn),
            }
            if amendment is not None
            else None
        ),
    }, problems


def answer_rows(
    context: dict[str, Any], provider: str, currency: str, lines: Sequence[QrfLine]
) -> list[dict[str, Any]]:
    """The QRF as CSV, ready to be filled in and imported with `bid quotes import`."""
    rows = []
    for line, shown in zip(lines, context["lines"], strict=True):
        site = line.as_row()
        values: dict[str, Any] = {
            **site,
            "requested_install_date": (
                line.requested_install_date.isoformat() if line.requested_install_date else ""
            ),
            "sla_class": shown["sla_class"],
            "interface": shown["interface"],
            "resilience": shown["resilience"],
            "contact_name": line.contact_name or "",
            "contact_phone": line.contact_phone or "",
            "contact_email": line.contact_email or "",
            "qrf_reference": context["qrf_reference"],
            "reply_by": context["reply_by"],
            "contract_months": context["contract_months"],
            "provider": provider,
            "kind": line.requested,
            "currency": currency,
        }
        rows.append({column: values.get(column, "") for column in QRF_CSV_COLUMNS})
    return rows


def unsourced_rows(lines: Sequence[QrfLine]) -> list[dict[str, Any]]:
    """The sites no provider and no fallback partner quotes, for `unsourced.csv`."""
    rows = []
    for line in lines:
        values = {**line.as_row(), "problem": f"no provider quotes {line.access} in {line.country}"}
        rows.append({column: values.get(column, "") for column in UNSOURCED_COLUMNS})
    return rows


# --- control plan, submission letter --------------------------------------------------------


def control_plan_context(
    session: Session, opportunity: Opportunity, catalogue: Catalogue, rules_dir: Path
) -> dict[str, Any]:
    """The Bid Control Plan: milestones in working days with their owners, the carriers'
    lead times against the reply-by dates, and the bid team."""
    opportunity_id = opportunity.id or 0
    delivery = load_delivery(rules_dir)
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
    by_name = {m.name: m for m in milestones}
    requests = session.exec(
        select(QuoteRequest)
        .where(QuoteRequest.opportunity_id == opportunity_id)
        .where(QuoteRequest.superseded == False)  # noqa: E712
        .order_by(col(QuoteRequest.name))
    ).all()
    carriers = []
    access_of = _access_by_site(session, opportunity_id) if requests else {}
    for request in requests:
        provider = catalogue.providers.by_id(request.provider)
        quotes_due = by_name.get(
            "firm_quotes_in" if request.firm_site_ids else "budgetary_quotes_in"
        )
        late = quotes_due is not None and request.reply_by > quotes_due.due_at.date()
        access = {
            access_of[site_id]
            for site_id in {*request.budgetary_site_ids, *request.firm_site_ids}
            if site_id in access_of
        }
        carriers.append(
            {
                "name": request.name,
                "country": request.country,
                "provider": provider.name if provider else "our own team",
                "reply_by": request.reply_by.isoformat(),
                "turnaround": (
                    f"{provider.lead_time_days} working days"
                    if provider
                    else f"{catalogue.providers.in_house.lead_time_days} working days"
                ),
                "delivery": ", ".join(
                    f"{a} {delivery.delivery_days_for(a, None)}" for a in sorted(access)
                ),
                "status": "answered" if request.answered_at else ("LATE" if late else "open"),
            }
        )
    return {
        **base_context(session, opportunity, "Bid Control Plan"),
        "deadline": opportunity.submission_deadline.isoformat(),
        "state": STATE_LABELS.get(opportunity.state.value, opportunity.state.value),
        "calendar": (
            f"Due dates are working days: weekends and public holidays of "
            f"{delivery.home_country} for the bid team, of each site's country for carriers."
        ),
        "milestones": rows,
        "carriers": carriers,
        "team": team,
    }


def _access_by_site(session: Session, opportunity_id: int) -> dict[str, str]:
    """Each site's access type, in one query for all the quote requests of the plan (a bid
    of 3,000 sites has dozens of requests: not one query of whole site rows per request)."""
    from orchestrator.store.models import Site

    rows = session.exec(
        select(Site.site_id, Site.access).where(Site.opportunity_id == opportunity_id)
    ).all()
    return {site_id: access for site_id, access in rows}


def submission_letter_context(
    session: Session,
    opportunity: Opportunity,
    enclosures: list[dict[str, str]],
    proposal_label: str,
    today: date,
) -> dict[str, Any]:
    """The cover letter of the submission: what is enclosed, signed by the bid's lead."""
    from orchestrator.commercial.quotes import ordered_sites

    sites = ordered_sites(session, opportunity.id or 0)
    return {
        **base_context(session, opportunity, "Submission letter"),
        "rfp_text": f" (your reference {clean(opportunity.rfp_reference)})"
        if opportunity.rfp_reference
        else "",
        "date": text.long_date(today),
        "site_count": len(sites),
        "country_count": len({s.country for s in sites}),
        "proposal_label": proposal_label,
        "signatory": text.signatory(session, opportunity),
        "enclosures": enclosures,
    }


def minute(moment: datetime | date) -> str:
    """A moment as the documents show it: to the minute, or the plain date."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def approval_pack(views: dict[str, Any] | None) -> dict[str, Any]:
    """The approval pack of the Bid Control Plan: what each approver decides on (the version's
    per-area views), in the words `bid approval show --area management` prints."""
    from orchestrator.core.approval_views import section_lines, sections_of

    if not views:
        return {"flags": [], "rows": []}
    rows = [
        {"area": name, "item": clean(label), "detail": clean(text)}
        for name in sections_of("management")
        for label, text in section_lines(name, views.get(name) or {})
    ]
    flags = (views.get("management") or {}).get("flags") or []
    return {"flags": [clean(flag) for flag in flags], "rows": rows}
