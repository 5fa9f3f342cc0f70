"""The clean order sheet after a win: what provisioning needs to order every line.

Per line: the site and its contact, the service as sold (access, bandwidth, SLA class,
handover interface, resilience, managed router), the carrier with its quote reference,
buy price and delivery date, and our sell price. Per order: the customer's legal and billing
entity, purchase order, contract start and end. Whatever is missing or wrong is listed
plainly as a problem — and a line with one is never marked OK (an unpriced line has no
price, never 0.00). The .xlsx holds the same lines with amounts, bandwidths and dates as
numbers and dates (they sum and sort); text is always text, never a formula.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from sqlmodel import Session

from orchestrator.commercial.orders import (
    OrderLine,
    change_history,
    order_lines,
    order_totals,
    per_bid_order_lines,
    summarise_change,
)
from orchestrator.commercial.quotes import current_quotes
from orchestrator.commercial.transition import SiteDelivery, delivery_date, expected_order_date
from orchestrator.decisions.catalogue import IN_HOUSE_PROVIDER, Catalogue
from orchestrator.decisions.offer_rules import load_delivery
from orchestrator.documents.files import atomic_write
from orchestrator.documents.text import base_context, clean, long_date, money
from orchestrator.store.models import Opportunity, Site

ORDER_COLUMNS = (
    ("line", "Line", "int"),
    ("site_id", "Site ID", "text"),
    ("name", "Name", "text"),
    ("street", "Street", "text"),
    ("postcode", "Postcode", "text"),
    ("city", "City", "text"),
    ("country", "Country", "text"),
    ("contact_name", "Contact", "text"),
    ("contact_phone", "Phone", "text"),
    ("contact_email", "E-mail", "text"),
    ("service", "Service", "text"),
    ("access", "Access", "text"),
    ("bandwidth_mbps", "Mbps", "int"),
    ("sla_class", "SLA class", "text"),
    ("interface", "Interface", "text"),
    ("resilience", "Resilience", "text"),
    ("cpe", "Router (CPE)", "text"),
    ("provider", "Provider", "text"),
    ("provider_reference", "Provider quote ref.", "text"),
    ("buy_currency", "Buy currency", "text"),
    ("buy_monthly", "Buy monthly", "money"),
    ("buy_one_off", "Buy one-off", "money"),
    ("monthly", "Monthly", "money"),
    ("one_off", "One-off", "money"),
    ("requested_install_date", "Requested install", "date"),
    ("delivery_date", "Delivery date", "date"),
    ("check", "Check", "text"),
)
"""The .xlsx columns: key, header, kind (numbers and dates are stored as such)."""
CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")
ORDER_FIELDS = (
    ("legal_entity", "legal entity", "--legal-entity"),
    ("billing_entity", "billing entity", "--billing-entity"),
    ("purchase_order", "purchase order", "--po"),
    ("contract_start", "contract start", "--contract-start"),
)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    month += 1
    last = [31, 29 if (day.year + year) % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return date(day.year + year, month, min(day.day, last[month - 1]))


def order_sheet_context(
    session: Session, opportunity: Opportunity, catalogue: Catalogue, rules_dir: Path
) -> tuple[dict[str, Any], list[str]]:
    """The clean order sheet's context, and every problem that blocks ordering."""
    delivery = load_delivery(rules_dir)
    lines = order_lines(session, opportunity, catalogue)
    quotes = current_quotes(session, opportunity.id or 0)
    sites = {s.site_id: s for s in session.exec(_sites_query(opportunity.id or 0)).all()}
    start = opportunity.contract_start
    order_date = expected_order_date(
        start, opportunity.decision_date, opportunity.submission_deadline, delivery
    )
    checks_contacts = hasattr(Site, "contact_name")
    problems: list[str] = []
    for key, label, option in ORDER_FIELDS:
        if getattr(opportunity, key) is None:
            problems.append(
                f"no {label} recorded (bid order details {opportunity.ref} {option} ...)"
            )
    rows = []
    grouped: dict[str, list[tuple[str, str]]] = {}
    for line in lines:
        site = sites[line.site_id]
        quote = quotes.get(line.site_id)
        trouble = list(line.problems)
        issues = list(line.issues)
        if line.monthly == 0 and line.one_off == 0 and not line.problems:
            trouble.append("price is 0.00: confirm the line is free before ordering")
            issues.append(("priced at 0.00 (confirm they are free before ordering)", ""))
        if quote is None:
            trouble.append("no provider quote: buy price and delivery unknown")
            issues.append(("without a provider quote (buy price and delivery unknown)", ""))
        else:
            if quote.valid_until < order_date:
                trouble.append(
                    f"provider quote valid until {quote.valid_until.isoformat()}, before the "
                    f"order on {order_date.isoformat()}: ask the carrier to confirm it"
                )
                issues.append(
                    (
                        f"whose provider quote ends before the order on {order_date.isoformat()}"
                        " (ask the carrier to confirm it)",
                        f"valid until {quote.valid_until.isoformat()}",
                    )
                )
            if quote.provider != IN_HOUSE_PROVIDER and not quote.provider_reference:
                trouble.append("no provider quote reference")
                issues.append(("without a provider quote reference", ""))
        contact = {f: getattr(site, f, None) for f in CONTACT_FIELDS}
        if checks_contacts and not (contact["contact_name"] and contact["contact_phone"]):
            trouble.append("no site contact (name and phone)")
            if not contact["contact_name"]:
                issues.append(("without a contact name", ""))
            if not contact["contact_phone"]:
                issues.append(("without a contact phone", ""))
        for kind, detail in issues:
            grouped.setdefault(kind, []).append((line.site_id, detail))
        resilience = delivery.resilience_for(site.resilience)
        delivered = delivery_date(
            order_date,
            SiteDelivery(
                site.site_id,
                site.country,
                site.access,
                line.provider,
                quote.delivery_days if quote else None,
                site.requested_install_date,
            ),
            delivery,
        )
        priced = "no price" not in " ".join(line.problems)
        rows.append(
            {
                "line": line.line,
                "site_id": clean(line.site_id),
                "name": clean(line.name),
                "street": clean(line.street),
                "postcode": clean(line.postcode),
                "city": clean(line.city),
                "country": clean(line.country),
                **{f: clean(v) if v else "" for f, v in contact.items()},
                "service": line.service,
                "access": line.access,
                "bandwidth_mbps": line.bandwidth_mbps,
                "sla_class": delivery.sla_class_for(line.access, site.sla_class).name,
                "interface": delivery.interface_for(line.bandwidth_mbps, site.interface),
                "resilience": resilience,
                "cpe": delivery.cpe_for(line.bandwidth_mbps, resilience),
                "provider": line.provider,
                "provider_reference": clean(quote.provider_reference or "") if quote else "",
                "buy_currency": quote.currency if quote else "",
                "buy_monthly": quote.monthly_cost if quote else None,
                "buy_one_off": quote.one_off_cost if quote else None,
                "monthly": line.monthly if priced else None,
                "one_off": line.one_off if priced else None,
                "requested_install_date": site.requested_install_date,
                "delivery_date": delivered,
                "check": "OK" if not trouble else "; ".join(trouble),
            }
        )
    problems += [grouped_problem(kind, found) for kind, found in grouped.items()]
    for line in per_bid_order_lines(session, opportunity, catalogue):
        rows.append(_per_bid_row(line))
        problems += [f"{line.name}: {t}" for t in line.problems]
    totals = order_totals(session, opportunity, catalogue)
    changes = change_history(session, opportunity.id or 0)
    change_rows = [
        {
            "number": index,
            "at": change.at.strftime("%Y-%m-%d %H:%M"),
            "site_id": clean(change.site_id),
            "kind": change.kind,
            "actor": clean(change.actor),
            "summary": clean(summarise_change(change)),
        }
        for index, change in enumerate(changes, start=1)
    ]
    end = add_months(start, opportunity.contract_months) if start else None
    context = {
        **base_context(session, opportunity, "Clean order sheet"),
        "state": opportunity.state.value,
        "currency": opportunity.currency,
        "order": {
            "legal_entity": clean(opportunity.legal_entity or "(missing)"),
            "billing_entity": clean(opportunity.billing_entity or "(missing)"),
            "purchase_order": clean(opportunity.purchase_order or "(missing)"),
            "contract_start": long_date(start) if start else "(missing)",
            "contract_end": long_date(end) if end else "(after the contract start)",
            "contract_months": opportunity.contract_months,
        },
        "line_count": len(rows),
        "totals": {
            "monthly": money(totals.monthly),
            "one_off": money(totals.one_off),
            "contract_value": money(totals.contract_value),
        },
        "total_values": {
            "monthly": totals.monthly,
            "one_off": totals.one_off,
            "contract_value": totals.contract_value,
        },
        "problem_count": len(problems),
        "change_count": len(change_rows),
        "lines": [_shown(row) for row in rows],
        "values": rows,
        "problems": [clean(p) for p in problems],
        "changes": change_rows,
    }
    return context, problems


def grouped_problem(kind: str, found: list[tuple[str, str]]) -> str:
    """One problem for every site with it, its sites listed ("1,612 sites without a contact
    phone: S0001, S0002, ..."): the order manager fixes a kind of problem, not a cell."""
    count = f"{len(found):,} site{'s' if len(found) != 1 else ''}"
    if any(detail for _, detail in found):
        listed = "; ".join(f"{site} {detail}".strip() for site, detail in found)
    else:
        listed = ", ".join(site for site, _ in found)
    return f"{count} {kind}: {listed}"


def _per_bid_row(line: OrderLine) -> dict[str, Any]:
    """A line sold once for the bid: no site, no carrier, no address; its price as sold."""
    priced = not line.problems
    return {
        **{key: "" for key, _, _ in ORDER_COLUMNS},
        "line": None,
        "name": clean(line.name),
        "service": line.service,
        "bandwidth_mbps": None,
        "provider": line.provider,
        "buy_monthly": None,
        "buy_one_off": None,
        "monthly": line.monthly if priced else None,
        "one_off": line.one_off if priced else None,
        "requested_install_date": None,
        "delivery_date": None,
        "check": "OK" if priced else "; ".join(line.problems),
    }


def _sites_query(opportunity_id: int) -> Any:
    from sqlmodel import select

    return select(Site).where(Site.opportunity_id == opportunity_id)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A line as the .docx prints it: amounts and dates as text, nothing missing shown as 0."""
    shown = dict(row)
    for key in ("buy_monthly", "buy_one_off", "monthly", "one_off"):
        shown[key] = money(row[key]) if row[key] is not None else "—"
    for key in ("requested_install_date", "delivery_date"):
        shown[key] = row[key].isoformat() if row[key] else "—"
    shown["contact"] = ", ".join(row[f] for f in CONTACT_FIELDS if row[f]) or "—"
    if row["line"] is None:  # a per-bid line: no line id, no bandwidth
        shown["line"] = "—"
        shown["bandwidth_mbps"] = "—"
    return shown


def _cell(sheet: Any, value: object, kind: str) -> Any:
    """A value typed for Excel: text as text (never a formula), numbers and dates as such."""
    if value is None or value == "":
        return None
    cell = WriteOnlyCell(sheet, value=value)
    if kind == "text" or isinstance(value, str):
        cell.value = str(value)
        cell.data_type = "s"
    elif kind == "money":
        cell.number_format = "#,##0.00"
    elif kind == "date":
        cell.number_format = "yyyy-mm-dd"
    return cell


def write_order_xlsx(context: dict[str, Any], digest: str, path: Path) -> None:
    """The order sheet's context as a workbook: order lines, the order, changes, problems."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Order lines")
    for index, (_, _, kind) in enumerate(ORDER_COLUMNS, start=1):
        width = {"money": 13, "int": 8, "date": 12}.get(kind, 18)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([_cell(sheet, f"{context['ref']} · clean order sheet · version {digest}", "text")])
    currency = context["currency"]
    sheet.append(
        [
            _cell(
                sheet, f"{label} ({currency})" if key in ("monthly", "one_off") else label, "text"
            )
            for key, label, _ in ORDER_COLUMNS
        ]
    )
    for row in context["values"]:
        sheet.append([_cell(sheet, row[key], kind) for key, _, kind in ORDER_COLUMNS])
    order = workbook.create_sheet("Order")
    for label, key in (
        ("Customer", None),
        ("Legal entity", "legal_entity"),
        ("Billing entity", "billing_entity"),
        ("Purchase order", "purchase_order"),
        ("Contract start", "contract_start"),
        ("Contract end", "contract_end"),
        ("Contract term (months)", "contract_months"),
    ):
        value = context["customer"] if key is None else context["order"][key]
        kind = "int" if key == "contract_months" else "text"
        order.append([_cell(order, label, "text"), _cell(order, value, kind)])
    totals = workbook.create_sheet("Totals")
    for label, key in (
        (f"Monthly recurring ({currency})", "monthly"),
        (f"One-off ({currency})", "one_off"),
        (f"Contract value ({currency})", "contract_value"),
    ):
        totals.append(
            [_cell(totals, label, "text"), _cell(totals, context["total_values"][key], "money")]
        )
    history = workbook.create_sheet("Changes")
    history.append(
        [_cell(history, h, "text") for h in ("#", "At", "Site", "Kind", "By", "Changes")]
    )
    for change in context["changes"]:
        history.append(
            [
                _cell(history, change[k], "int" if k == "number" else "text")
                for k in ("number", "at", "site_id", "kind", "actor", "summary")
            ]
        )
    problems = workbook.create_sheet("Problems")
    problems.append([_cell(problems, "Problem", "text")])
    for problem in context["problems"]:
        problems.append([_cell(problems, problem, "text")])
    workbook.properties.creator = "bid-orchestrator"
    with atomic_write(path) as tmp:
        workbook.save(str(tmp))
