"""The compliance matrix as a workbook beside the proposal (annex A): one row per requirement.

Every cell the customer typed or we answered is written as text (never a formula); the
columns are wide enough to read and the text wraps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.documents.files import atomic_write

COLUMNS = (
    ("id", "Requirement", 14),
    ("section", "Section", 22),
    ("text", "Requirement text", 60),
    ("mandatory", "Mandatory", 11),
    ("compliance", "Compliance", 13),
    ("answer", "Our response", 70),
)


def write_compliance_xlsx(context: dict[str, Any], label: str, path: Path) -> None:
    """Annex A of the proposal: the customer's requirements, our compliance and response."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Compliance matrix"
    title = f"{context['customer']} · {context['title']} · compliance matrix · {label}"
    cell = sheet.cell(row=1, column=1, value=title)
    cell.data_type = "s"
    cell.font = Font(bold=True, size=12)
    bold = Font(bold=True)
    for column, (_, header, width) in enumerate(COLUMNS, start=1):
        head = sheet.cell(row=3, column=column, value=header)
        head.font = bold
        sheet.column_dimensions[get_column_letter(column)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, row in enumerate(context["compliance"]["rows"], start=4):
        for column, (key, _, _) in enumerate(COLUMNS, start=1):
            target = sheet.cell(row=number, column=column, value=str(row[key]))
            target.data_type = "s"  # text as written: "=..." is never a formula
            target.alignment = wrap
    sheet.freeze_panes = "A4"
    sheet.auto_filter.ref = f"A3:{get_column_letter(len(COLUMNS))}{max(3, sheet.max_row)}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    workbook.properties.creator = "bid-orchestrator"
    with atomic_write(path) as tmp:
        workbook.save(str(tmp))
