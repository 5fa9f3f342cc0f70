"""Rows of a table a customer sends as a `.csv` or an `.xlsx` workbook alike (`read_table`).

A workbook's sheet is the one `--sheet` names, else the first visible one (a hidden lookup
sheet is skipped); its header row is found by the column names it holds (within the first
`HEADER_SEARCH_ROWS` rows, as the questionnaire import does), so a title row or a merged
heading above it does no harm. Merged cells read as their range's first cell; numbers read
as a person reads them (12.0 is "12") and numbers stored as text are taken as the same text.
The workbook's limits (size, unzipped size, rows, merged ranges) are checked before openpyxl
opens it (`intake.limits.check_workbook`). Apart from `intake.sheets` so that the write path
(`orchestrator.bid`), which reads sites, never imports openpyxl.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.config import LIMITS
from orchestrator.errors import InputError
from orchestrator.intake.limits import MergedRange, check_workbook
from orchestrator.intake.questionnaire import cell_text
from orchestrator.intake.sheets import XLSX_SUFFIXES, Table, column_key, csv_table

HEADER_SEARCH_ROWS = 50


def read_table(
    path: Path, *, required: Iterable[str], sheet: str | None = None, max_bytes: int
) -> Table:
    """The table of a `.csv` (header on row 1) or `.xlsx` file; a file named otherwise is
    read by what it holds (a zip: a workbook, else text as CSV). `InputError` naming the file
    for an old .xls, a missing sheet or no header row naming the `required` columns."""
    name = str(path)
    suffix = path.suffix.lower()
    wanted = list(required)
    if suffix not in {".csv", ".xls", *XLSX_SUFFIXES}:
        suffix = ".xlsx" if _starts_like_a_zip(path) else ".csv"
    if suffix == ".csv":
        if sheet:
            raise InputError("a .csv file has no sheets; --sheet is for .xlsx", file=name)
        return csv_table(path, max_bytes=max_bytes)
    if suffix in XLSX_SUFFIXES:
        return _workbook_table(path, wanted, sheet)
    raise InputError("is an old .xls workbook: save it as .xlsx", file=name)


def _starts_like_a_zip(path: Path) -> bool:
    """Whether the file begins as a zip (an .xlsx workbook) does; unreadable counts as not."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _workbook_table(path: Path, required: list[str], sheet: str | None) -> Table:
    from openpyxl import load_workbook

    name = str(path)
    try:
        with path.open("rb") as handle:
            content = handle.read(LIMITS.workbook_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", file=name) from None
    merged_ranges = check_workbook(name, content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file: all are the user's
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as an .xlsx workbook ({detail})", file=name) from None
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            raise InputError(
                f"has no sheet '{sheet}' (sheets: {', '.join(workbook.sheetnames)})",
                file=name,
                field="sheet",
            )
        title = sheet
    else:
        visible = [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible"]
        if not visible:
            raise InputError("has no visible sheet", file=name)
        title = visible[0]
    grid = _grid(workbook[title], merged_ranges.get(title, []), name)
    wanted = set(required)
    for row in sorted(grid)[:HEADER_SEARCH_ROWS]:
        cells = grid[row]
        header = [column_key(c) for c in cells]
        if wanted <= set(header):
            after = (r for r in sorted(grid) if r > row)
            return Table(header, row, ((r, grid[r]) for r in after))
    raise InputError(
        f"sheet '{title}' has no header row naming {', '.join(required)} in its first "
        f"{HEADER_SEARCH_ROWS} rows",
        file=name,
        row=1,
    )


def _grid(sheet: Any, merged: list[MergedRange], name: str) -> dict[int, list[str]]:
    """Non-empty rows of a sheet as text cells (column 1 first), merged cells filled."""
    rows: dict[int, list[str]] = {}
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > LIMITS.sheet_rows:
                raise InputError(
                    f"sheet '{sheet.title}' has more than {LIMITS.sheet_rows:,} rows",
                    file=name,
                    row=number,
                )
            cells = [cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                rows[number] = cells
    except InputError:
        raise
    except Exception as exc:  # a damaged sheet, found while streaming: the user's file
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as an .xlsx workbook ({detail})", file=name) from None
    for span in merged:  # within the limits of merged cells (check_workbook)
        origin = rows.get(span.min_row, [])
        value = origin[span.min_col - 1] if len(origin) >= span.min_col else ""
        if not value:
            continue
        for r in range(span.min_row, span.max_row + 1):
            row = rows.setdefault(r, [])
            for c in range(span.min_col, span.max_col + 1):
                row.extend([""] * (c - len(row)))
                if not row[c - 1]:
                    row[c - 1] = value
    return rows
