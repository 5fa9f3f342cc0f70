"""The proposal's pricing schedule as a workbook (its annex): one row per site, then the
lines priced for the whole contract, then the total — which is the deal's total.

A 3,200-site price table inline ran a proposal to 175 pages; customers load the schedule into
their own evaluation sheets anyway. Amounts are numbers in the bid's currency (two decimals),
a line without a price says "price on request"; text cells are written as text, never as a
formula.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.documents.files import atomic_write

COLUMNS = (
    ("site_id", "Site ID", 12),
    ("name", "Site", 30),
    ("city", "City", 18),
    ("country", "Country", 9),
    ("service", "Service", 20),
    ("access", "Access", 14),
    ("bandwidth_mbps", "Mbps", 8),
    ("sla", "SLA class", 11),
    ("monthly_amount", "Monthly", 14),
    ("one_off_amount", "One-off", 14),
)
SHEET = "Pricing schedule"
HEADER_ROW = 3
"""The row of the column headers; the sites start on the row after it."""
ON_REQUEST = "price on request"


def write_pricing_xlsx(context: dict[str, Any], label: str, path: Path) -> None:
    """The per-site prices of the proposal, its whole-contract lines and the total."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    currency = context["currency"]
    title = f"{context['customer']} · {context['title']} · pricing schedule · {label}"
    cell = sheet.cell(row=1, column=1, value=title)
    cell.data_type = "s"
    cell.font = Font(bold=True, size=12)
    bold = Font(bold=True)
    money_columns = {"monthly_amount", "one_off_amount"}
    for column, (key, header, width) in enumerate(COLUMNS, start=1):
        text = f"{header} ({currency})" if key in money_columns else header
        sheet.cell(row=HEADER_ROW, column=column, value=text).font = bold
        sheet.column_dimensions[get_column_letter(column)].width = width
    number = HEADER_ROW
    monthly = one_off = 0.0
    schedule = context["schedule"]
    for site in schedule["sites"]:
        number += 1
        for column, (key, _, _) in enumerate(COLUMNS, start=1):
            value = site[key]
            if key in money_columns:
                _amount(sheet.cell(row=number, column=column), value)
            else:
                target = sheet.cell(row=number, column=column, value=value)
                if isinstance(value, str):
                    target.data_type = "s"
        monthly += site["monthly_amount"] or 0.0
        one_off += site["one_off_amount"] or 0.0
    for line in schedule["contract_lines"]:
        number += 1
        sheet.cell(row=number, column=2, value=line["label"]).data_type = "s"
        _amount(sheet.cell(row=number, column=9), line["monthly_amount"])
        _amount(sheet.cell(row=number, column=10), line["one_off_amount"])
        monthly += line["monthly_amount"] or 0.0
        one_off += line["one_off_amount"] or 0.0
    number += 1
    sheet.cell(row=number, column=1, value="Total").font = bold
    for column, total in ((9, monthly), (10, one_off)):
        target = sheet.cell(row=number, column=column, value=round(total, 2))
        target.number_format = "#,##0.00"
        target.font = bold
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{number - 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.properties.creator = context["company"]["name"]
    with atomic_write(path) as tmp:
        workbook.save(str(tmp))


def _amount(cell: Any, value: float | None) -> None:
    if value is None:
        cell.value = ON_REQUEST
        cell.data_type = "s"
    else:
        cell.value = value
        cell.number_format = "#,##0.00"
