"""The clean order sheet after a win: its rows and context, and the Excel workbook.

The .docx is rendered from the context by `DocxDocuments.order_sheet`; the .xlsx holds the
same lines, changes and problems, headed by the .docx's content hash. Text that starts
with "=" is written as text, never as a formula.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlmodel import Session

from orchestrator.commercial.orders import OrderLine, change_history, order_lines, summarise_change
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.documents.context import base_context, clean, minute, money
from orchestrator.documents.files import atomic_write
from orchestrator.store.models import Opportunity

ORDER_COLUMNS = (
    ("line", "Line"),
    ("site_id", "Site ID"),
    ("name", "Name"),
    ("street", "Street"),
    ("postcode", "Postcode"),
    ("city", "City"),
    ("country", "Country"),
    ("service", "Service"),
    ("access", "Access"),
    ("bandwidth_mbps", "Mbps"),
    ("provider", "Provider"),
    ("monthly", "Monthly"),
    ("one_off", "One-off"),
    ("check", "Check"),
)


def order_sheet_context(
    session: Session, opportunity: Opportunity, catalogue: Catalogue
) -> tuple[dict[str, Any], list[str]]:
    """The clean order sheet's context, and the problems that block ordering."""
    lines = order_lines(session, opportunity, catalogue)
    changes = change_history(session, opportunity.id or 0)
    problems = [
        f"line {line.line}, site {line.site_id}: {problem}"
        for line in lines
        for problem in line.problems
    ]
    line_rows = [_order_row(line) for line in lines]
    change_rows = [
        {
            "number": index,
            "at": minute(change.at),
            "site_id": clean(change.site_id),
            "kind": change.kind,
            "actor": clean(change.actor),
            "summary": clean(summarise_change(change)),
        }
        for index, change in enumerate(changes, start=1)
    ]
    context = {
        **base_context(session, opportunity, "Clean order sheet"),
        "state": opportunity.state,
        "currency": opportunity.currency,
        "line_count": len(line_rows),
        "problem_count": len(problems),
        "change_count": len(change_rows),
        "lines": line_rows,
        "problems": [clean(p) for p in problems],
        "changes": change_rows,
    }
    return context, problems


def _order_row(line: OrderLine) -> dict[str, Any]:
    return {
        "line": line.line,
        "site_id": clean(line.site_id),
        "name": clean(line.name),
        "street": clean(line.street),
        "postcode": clean(line.postcode),
        "city": clean(line.city),
        "country": clean(line.country),
        "service": line.service,
        "access": line.access,
        "bandwidth_mbps": line.bandwidth_mbps,
        "provider": line.provider,
        "monthly": money(line.monthly),
        "one_off": money(line.one_off),
        "check": clean(line.check),
    }


def _text_cell(sheet: Any, value: object) -> Any:
    """A value Excel shows as written: '=cmd|…' in a site name is text, never a formula.

    Every string is typed as a string cell (openpyxl would store `=…` as a formula), so no
    text a user typed is ever evaluated by the spreadsheet.
    """
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_order_xlsx(context: dict[str, Any], digest: str, path: Path) -> None:
    """The order sheet's context as a workbook: order lines, changes and problems."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Order lines")
    sheet.append([_text_cell(sheet, f"{context['ref']} · clean order sheet · version {digest}")])
    currency = context["currency"]
    sheet.append(
        [
            _text_cell(sheet, f"{label} ({currency})" if key in ("monthly", "one_off") else label)
            for key, label in ORDER_COLUMNS
        ]
    )
    for row in context["lines"]:
        sheet.append([_text_cell(sheet, row[key]) for key, _ in ORDER_COLUMNS])
    history = workbook.create_sheet("Changes")
    history.append([_text_cell(history, h) for h in ("#", "At", "Site", "Kind", "By", "Changes")])
    for change in context["changes"]:
        history.append(
            [
                _text_cell(history, change[k])
                for k in ("number", "at", "site_id", "kind", "actor", "summary")
            ]
        )
    problems = workbook.create_sheet("Problems")
    problems.append([_text_cell(problems, "Problem")])
    for problem in context["problems"]:
        problems.append([_text_cell(problems, problem)])
    workbook.properties.creator = "bid-orchestrator"
    with atomic_write(path) as tmp:
        workbook.save(str(tmp))
