"""The answers written back into a copy of the customer's own questionnaire.

Response tools hand the customer their own file back, filled in: same workbook, same sheet,
same rows, their formatting kept. The answer and compliance go into the file's own answer
and compliance columns when it has them (rules/rfp.yaml names them), else into two columns
added after the last one. Text is always written as text: an answer starting with "=" is
never a formula. A cell merged over several rows takes the answer of its first row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from orchestrator.decisions.rfp_rules import RfpRules
from orchestrator.documents.files import atomic_write
from orchestrator.errors import InputError
from orchestrator.intake.questionnaire import XLSX_SUFFIXES, csv_to_rows
from orchestrator.intake.questionnaire_rows import ExportRows
from orchestrator.text import spreadsheet_cell

ANSWER_HEADER = "Response"
COMPLIANCE_HEADER = "Compliance"


def _text_cell(cell: Any, value: str) -> None:
    cell.value = value
    cell.data_type = "s"  # never a formula, whatever the text starts with


def _write_xlsx(export: ExportRows, rules: RfpRules, out: Path) -> int:
    from openpyxl import load_workbook
    from openpyxl.cell.cell import MergedCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    keep_vba = out.suffix.lower() == ".xlsm"
    workbook = load_workbook(io.BytesIO(export.content), keep_vba=keep_vba, rich_text=True)
    sheet = workbook[export.sheet] if export.sheet else workbook.active
    last = sheet.max_column
    columns = dict(export.columns)
    header_font = Font(bold=True)
    for name, header, width in (
        ("answer", ANSWER_HEADER, 60),
        ("compliance", COMPLIANCE_HEADER, 14),
    ):
        if name not in columns:
            last += 1
            columns[name] = last
            cell = sheet.cell(row=export.header_row, column=last)
            if not isinstance(cell, MergedCell):
                _text_cell(cell, header)
                cell.font = header_font
            sheet.column_dimensions[get_column_letter(last)].width = width
    written = 0
    wrap = Alignment(wrap_text=True, vertical="top")
    merged = {
        (r, c): (cells.min_row, cells.min_col)
        for cells in sheet.merged_cells.ranges
        for r in range(cells.min_row, min(cells.max_row, sheet.max_row) + 1)
        for c in (columns["answer"], columns["compliance"])
        if cells.min_col <= c <= cells.max_col
    }
    for row, _req_id, answer, compliance in export.answers:
        values = {
            "answer": answer or "",
            "compliance": rules.compliance_label(compliance) if compliance else "",
        }
        for name, value in values.items():
            column = columns[name]
            origin = merged.get((row, column), (row, column))
            if origin[0] != row:
                continue  # merged into an earlier row's cell: that row wrote it
            cell = sheet.cell(row=origin[0], column=origin[1])
            _text_cell(cell, value)
            if name == "answer":
                cell.alignment = wrap
        written += 1
    with atomic_write(out) as tmp:
        workbook.save(str(tmp))
    return written


def _csv_rows(export: ExportRows) -> tuple[list[list[str]], dict[str, int]]:
    rows = [r for r in csv_to_rows(export.content) if r]
    header = rows[export.header_row - 1]
    columns = dict(export.columns)
    for name, title in (("answer", ANSWER_HEADER), ("compliance", COMPLIANCE_HEADER)):
        if name not in columns:
            header.append(title)
            columns[name] = len(header)
    width = len(header)
    return [row + [""] * (width - len(row)) for row in rows], columns


def _write_csv_like(export: ExportRows, rules: RfpRules, out: Path) -> int:
    rows, columns = _csv_rows(export)
    for row, _req_id, answer, compliance in export.answers:
        line = rows[row - 1]
        line[columns["answer"] - 1] = answer or ""
        line[columns["compliance"] - 1] = rules.compliance_label(compliance) if compliance else ""
    if out.suffix.lower() == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [[spreadsheet_cell(v) for v in line] for line in rows]
        )
        with atomic_write(out) as tmp:
            tmp.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = Path(export.file_name).stem[:31] or "Questionnaire"
        for r, line in enumerate(rows, start=1):
            for c, value in enumerate(line, start=1):
                _text_cell(sheet.cell(row=r, column=c), value)
        with atomic_write(out) as tmp:
            workbook.save(str(tmp))
    return len(export.answers)


def write_answers(export: ExportRows, rules: RfpRules, out: Path) -> int:
    """Write a copy of the customer's file with our answers; returns the requirements written."""
    original = Path(export.file_name).suffix.lower()
    wanted = out.suffix.lower()
    if original in XLSX_SUFFIXES:
        if wanted not in XLSX_SUFFIXES:
            raise InputError(
                f"the customer's file is {original}: --out must end in {original}", field="out"
            )
        return _write_xlsx(export, rules, out)
    if wanted not in (".csv", *XLSX_SUFFIXES):
        raise InputError("--out must end in .xlsx or .csv", field="out")
    return _write_csv_like(export, rules, out)
