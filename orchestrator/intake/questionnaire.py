"""Reading a customer's RFP questionnaire (.xlsx or .csv) into requirements, row by row.

Customers' files are made for people: a title block above the header row, sections as
merged cells or heading rows, empty rows between chapters, "M"/"O" for mandatory, formulas
that number the rows. This reader takes them as they come:

- the header row is the first row naming an id and a text column (rules/rfp.yaml lists
  the header names; `columns` overrides them: a header name or a column letter);
- a cell merged over several rows counts in each of them (a section merged down its
  requirements); a row whose id and text are one merged cell is a section heading, as is a
  row holding a section and nothing else; empty rows are skipped;
- a formula counts with the result Excel saved; one without a saved result is refused;
- every other problem (no id, no text, a duplicate id, an unreadable mandatory flag, text
  past the limit, a control character) is one `InputError` naming the file, row and
  field. Any problem refuses the whole file (`InputErrors`): nothing is imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from orchestrator.config import LIMITS
from orchestrator.decisions.rfp_rules import REQUIRED_FIELDS, RfpRules, squeeze
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.limits import MergedRange, check_workbook
from orchestrator.intake.questionnaire_rows import ParsedQuestionnaire, ParsedRequirement

XLSX_SUFFIXES = (".xlsx", ".xlsm")
HEADER_SEARCH_ROWS = 50
_COLUMN_LETTERS = re.compile(r"^[A-Za-z]{1,3}$")
_CONTROL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f\x7f]")


def column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_text(value: object) -> str:
    """A cell as the text a person reads: 12.0 is "12", a date its ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n")
    return text.replace("\t", " ").strip()


# --- the grid: rows of cells from either kind of file ------------------------------------------


@dataclass
class _Grid:
    """The cells of one sheet: values by (row, column), 1-based, with merged cells filled."""

    rows: dict[int, dict[int, object]]
    merged: dict[tuple[int, int], tuple[int, int]]
    """(row, column) of a merged cell → the range's top-left (row, column)."""
    formulas: set[tuple[int, int]]
    max_row: int

    def value(self, row: int, column: int) -> object:
        origin = self.merged.get((row, column), (row, column))
        return self.rows.get(origin[0], {}).get(origin[1])

    def origin(self, row: int, column: int) -> tuple[int, int]:
        return self.merged.get((row, column), (row, column))


def _csv_grid(path: Path, content: bytes) -> _Grid:
    from orchestrator.intake.files import csv_rows

    rows: dict[int, dict[int, object]] = {}
    last = 0
    for line, cells in csv_rows(path, max_bytes=LIMITS.workbook_bytes):
        if line > LIMITS.sheet_rows:
            raise InputError(
                f"has more than {LIMITS.sheet_rows:,} rows (the limit of rows per sheet)",
                file=str(path),
                row=line,
            )
        rows[line] = {i: cell for i, cell in enumerate(cells, start=1) if cell.strip()}
        last = line
    return _Grid(rows, {}, set(), last)


def _open_workbook(name: str, content: bytes, *, data_only: bool) -> Any:
    """The workbook in openpyxl's read-only mode: cells streamed, merged ranges not expanded
    (`check_workbook` has read them and checked the limits before this is called)."""
    from openpyxl import load_workbook

    try:
        return load_workbook(
            io.BytesIO(content), read_only=True, data_only=data_only, rich_text=False
        )
    except Exception as exc:  # openpyxl raises many kinds on a damaged file: all are the user's
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as an .xlsx workbook ({detail})", file=name) from None


def _sheet_grid(sheet: Any, merged_ranges: list[MergedRange], max_rows: int, name: str) -> _Grid:
    rows: dict[int, dict[int, object]] = {}
    formulas: set[tuple[int, int]] = set()
    last = 0
    try:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                if cell.row > max_rows + HEADER_SEARCH_ROWS:
                    raise InputError(
                        f"sheet '{sheet.title}' has more than {max_rows:,} rows "
                        "(rules/rfp.yaml limits.max_rows)",
                        file=name,
                        row=cell.row,
                    )
                if cell.data_type == "f" or type(value).__name__ in (
                    "ArrayFormula",
                    "DataTableFormula",
                ):
                    formulas.add((cell.row, cell.column))
                rows.setdefault(cell.row, {})[cell.column] = value
                last = max(last, cell.row)
    except InputError:
        raise
    except Exception as exc:  # a damaged sheet, found while streaming: the user's file
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as an .xlsx workbook ({detail})", file=name) from None
    merged: dict[tuple[int, int], tuple[int, int]] = {}
    for cells in merged_ranges:  # within the limits of merged cells (check_workbook)
        for r in range(cells.min_row, cells.max_row + 1):
            for c in range(cells.min_col, cells.max_col + 1):
                merged[(r, c)] = (cells.min_row, cells.min_col)
    return _Grid(rows, merged, formulas, last)


def _saved_results(
    name: str, content: bytes, title: str, wanted: set[tuple[int, int]]
) -> dict[tuple[int, int], object]:
    """The results Excel saved for the formula cells `wanted`, streamed once."""
    sheet = _open_workbook(name, content, data_only=True)[title]
    found: dict[tuple[int, int], object] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is not None and (cell.row, cell.column) in wanted:
                found[(cell.row, cell.column)] = cell.value
    return found


# --- the header row and the columns --------------------------------------------------------------


def _header(
    grid: _Grid, rules: RfpRules, overrides: Mapping[str, str], name: str
) -> tuple[int, dict[str, int]] | None:
    """(header row, field → column) of the first row naming an id and a text column."""
    for row in range(1, min(grid.max_row, HEADER_SEARCH_ROWS) + 1):
        cells = grid.rows.get(row, {})
        found: dict[str, int] = {}
        by_name = {squeeze(value): column for column, value in sorted(cells.items())}
        for column, value in sorted(cells.items()):
            field_name = rules.field_for_header(value)
            if field_name and field_name not in found:
                found[field_name] = column
        for field_name, wanted in overrides.items():
            chosen = by_name.get(squeeze(wanted))
            if chosen is None and _COLUMN_LETTERS.match(wanted.strip()):
                chosen = column_number(wanted.strip())
            if chosen is not None:
                found[field_name] = chosen
            else:
                found.pop(field_name, None)
        if all(f in found for f in REQUIRED_FIELDS):
            return row, found
    return None


# --- rows -------------------------------------------------------------------------------------


@dataclass
class _Reader:
    name: str
    grid: _Grid
    rules: RfpRules
    columns: dict[str, int]
    saved: dict[tuple[int, int], object] | None = None
    """The formulas' saved results (read on the first formula met)."""
    load_saved: Any = None

    def cell(self, row: int, field_name: str, problems: list[InputError]) -> str:
        column = self.columns.get(field_name)
        if column is None:
            return ""
        origin = self.grid.origin(row, column)
        value = self.grid.value(row, column)
        if origin in self.grid.formulas:
            if self.saved is None:
                self.saved = self.load_saved()
            value = self.saved.get(origin)
            if value is None:
                problems.append(
                    InputError(
                        "is a formula without a saved result (open and save the file in "
                        "Excel, or paste the values)",
                        file=self.name,
                        row=row,
                        field=field_name,
                    )
                )
                return ""
        text = cell_text(value)
        limit = self.rules.max_text
        if len(text) > limit:
            problems.append(
                InputError(
                    f"is longer than {limit:,} characters",
                    file=self.name,
                    row=row,
                    field=field_name,
                )
            )
            return ""
        if _CONTROL.search(text):
            problems.append(
                InputError(
                    "contains a control character", file=self.name, row=row, field=field_name
                )
            )
            return ""
        return text

    def is_heading(self, row: int) -> bool:
        """The id and text cells are one merged cell (a section title across the table)."""
        id_origin = self.grid.origin(row, self.columns["id"])
        return id_origin == self.grid.origin(row, self.columns["text"]) and (
            self.grid.value(row, self.columns["id"]) is not None
        )


def _rows(grid: _Grid, header_row: int) -> Iterator[int]:
    return iter(range(header_row + 1, grid.max_row + 1))


def parse_questionnaire(
    path: Path,
    rules: RfpRules,
    *,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> ParsedQuestionnaire:
    """Read and check a questionnaire; any bad row refuses the file (one line per row)."""
    name = str(path)
    overrides = dict(columns or {})
    unknown = sorted(set(overrides) - set(rules.columns) - {"answer", "compliance", "section"})
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; fields: id, section, text, mandatory, "
            "answer, compliance",
            field="column",
        )
    max_bytes = min(rules.max_bytes, LIMITS.workbook_bytes)
    try:
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", file=name) from None
    if len(content) > max_bytes:
        raise InputError(
            f"is larger than {max_bytes:,} bytes (the limit of bytes per file)", file=name
        )
    suffix = path.suffix.lower()
    workbook: Any = None
    sheet_name: str | None = None
    if suffix in XLSX_SUFFIXES:
        merged_ranges = check_workbook(name, content)
        workbook = _open_workbook(name, content, data_only=False)
        candidates = [sheet] if sheet else list(workbook.sheetnames)
        if sheet and sheet not in workbook.sheetnames:
            raise InputError(
                f"has no sheet '{sheet}' (sheets: {', '.join(workbook.sheetnames)})",
                file=name,
                field="sheet",
            )
        found = None
        for candidate in candidates:
            grid = _sheet_grid(
                workbook[candidate], merged_ranges.get(candidate, []), rules.max_rows, name
            )
            header = _header(grid, rules, overrides, name)
            if header is not None:
                found, sheet_name = (grid, header), candidate
                break
    elif suffix == ".csv":
        grid = _csv_grid(path, content)
        header = _header(grid, rules, overrides, name)
        found = (grid, header) if header is not None else None
    elif suffix == ".xls":
        raise InputError("is an old .xls workbook: save it as .xlsx", file=name)
    else:
        raise InputError("is neither .xlsx nor .csv", file=name)
    if found is None:
        wanted = " and ".join(
            f"'{f}' ({', '.join(rules.columns[f][:3])}, …)" for f in REQUIRED_FIELDS
        )
        raise InputError(
            f"no header row naming {wanted} in the first {HEADER_SEARCH_ROWS} rows; name the "
            "columns with --column id=HEADER --column text=HEADER",
            file=name,
            row=1,
        )
    grid, (header_row, mapped) = found
    reader = _Reader(name, grid, rules, mapped)
    if workbook is not None and sheet_name is not None:
        title = sheet_name
        formulas = grid.formulas
        reader.load_saved = lambda: _saved_results(name, content, title, formulas)
    requirements: list[ParsedRequirement] = []
    problems: list[InputError] = []
    seen: dict[str, int] = {}
    section = ""
    headings = empty = 0
    for row in _rows(grid, header_row):
        row_problems: list[InputError] = []
        current = reader.cell(row, "section", row_problems)  # merged down: counts here too
        if reader.is_heading(row):
            section = reader.cell(row, "id", row_problems) or section
            headings += 1
            problems.extend(row_problems)
            continue
        req_id = reader.cell(row, "id", row_problems)
        text = reader.cell(row, "text", row_problems)
        raw_mandatory = reader.cell(row, "mandatory", row_problems)
        answer = reader.cell(row, "answer", row_problems)
        raw_compliance = reader.cell(row, "compliance", row_problems)
        if not req_id and not text and not row_problems:
            if current:  # a heading row: a section and nothing else
                section = current
                headings += 1
            else:
                empty += 1
            continue
        if current:
            section = current
        if not req_id and not any(p.field == "id" for p in row_problems):
            row_problems.append(InputError("is empty", file=name, row=row, field="id"))
        if not text and not any(p.field == "text" for p in row_problems):
            row_problems.append(InputError("is empty", file=name, row=row, field="text"))
        mandatory = rules.mandatory(raw_mandatory) if "mandatory" in mapped else False
        if mandatory is None:
            row_problems.append(
                InputError(
                    f"'{raw_mandatory[:40]}' is neither mandatory nor optional "
                    "(rules/rfp.yaml mandatory_values)",
                    file=name,
                    row=row,
                    field="mandatory",
                )
            )
        compliance = rules.compliance(raw_compliance) if raw_compliance else None
        if raw_compliance and compliance is None:
            row_problems.append(
                InputError(
                    f"'{raw_compliance[:40]}' is not a compliance status "
                    "(rules/rfp.yaml compliance_values)",
                    file=name,
                    row=row,
                    field="compliance",
                )
            )
        if req_id and req_id in seen:
            row_problems.append(
                InputError(
                    f"duplicate requirement id '{req_id[:40]}' (first on row {seen[req_id]})",
                    file=name,
                    row=row,
                    field="id",
                )
            )
        elif req_id and len(req_id) > 100:
            row_problems.append(
                InputError("is longer than 100 characters", file=name, row=row, field="id")
            )
        if row_problems:
            problems.extend(row_problems)
            continue
        seen[req_id] = row
        requirements.append(
            ParsedRequirement(
                row=row,
                req_id=req_id,
                section=section[:300],
                text=text,
                mandatory=bool(mandatory),
                answer=answer or None,
                compliance=compliance,
            )
        )
        if len(requirements) > rules.max_rows:
            raise InputError(
                f"more than {rules.max_rows:,} requirements (rules/rfp.yaml limits.max_rows)",
                file=name,
                row=row,
            )
    if problems:
        raise InputErrors(name, problems)
    if not requirements:
        raise InputError("no requirements below the header row", file=name, row=header_row + 1)
    return ParsedQuestionnaire(
        file_name=path.name,
        content=content,
        content_hash=hashlib.sha256(content).hexdigest(),
        sheet=sheet_name,
        header_row=header_row,
        columns=mapped,
        requirements=requirements,
        headings=headings,
        skipped_empty=empty,
    )


def csv_to_rows(content: bytes) -> list[list[str]]:
    """A stored CSV questionnaire as rows of cells (the export writes into a copy)."""
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))
