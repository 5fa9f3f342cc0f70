"""A file uploaded through the workspace, checked before any command carries it.

The intake reads what it is given; a browser hands us anything a person picked. So before a
site list goes anywhere: it must be under the size limit, be what its name claims (a `.csv`
that is really a ZIP — an `.xlsx` renamed — or a PDF is refused by its first bytes), and hold
no spreadsheet formulas (a cell starting with `=`, `@`, or `+`/`-` followed by a function
call), which a spreadsheet would run when someone opens a file we write from it. Then the
intake's own reading runs on it as a dry check (no database write), so its row-by-row
problems show on the form and nothing is saved until the file is clean.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

from orchestrator.errors import InputError, InputErrors

MAX_SITE_FILE_BYTES = 10_000_000
"""A site list of 3,200 sites is about 0.5 MB; ten megabytes is far beyond any real one."""

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .docx renamed?)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls or .doc)"),
    (b"%PDF", "a PDF"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"MZ", "a program"),
    (b"\x7fELF", "a program"),
)
_FORMULA = re.compile(r"^([=@＝＠]|[+\-＋－]\s*[A-Za-z_][A-Za-z0-9_.]*\s*\()")
"""A formula or DDE call to a spreadsheet (full-width forms too); "+32 2 555" and "-5" pass."""


def check_csv(
    name: str, content: bytes, *, max_bytes: int = MAX_SITE_FILE_BYTES, what: str = "a site list"
) -> None:
    """Refuse a file that is not a plain CSV (one `InputError` naming file, row and column)."""
    if not name.lower().endswith(".csv"):
        raise InputError(f"{what} is a .csv file", file=name)
    if len(content) > max_bytes:
        raise InputError(
            f"is {len(content):,} bytes; {what} is limited to {max_bytes:,} bytes", file=name
        )
    if not content.strip():
        raise InputError("is empty", file=name)
    for magic, kind in SIGNATURES:
        if content.startswith(magic):
            raise InputError(f"is named .csv but is {kind}; save the sheet as CSV", file=name)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise InputError("is not UTF-8 text; save it as CSV UTF-8", file=name, row=line) from None
    problems: list[InputError] = []
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=name) from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    row_number = 0
    for cells in rows:
        if not cells:
            continue
        row_number += 1
        for index, cell in enumerate(cells):
            if _FORMULA.match(cell.strip()):
                column = header[index] if index < len(header) and header[index] else index + 1
                problems.append(
                    InputError(
                        "is a spreadsheet formula; only values are taken",
                        file=name,
                        row=row_number,
                        field=str(column),
                    )
                )
    if problems:
        raise InputErrors(name, problems) if len(problems) > 1 else problems[0]


def problem_lines(error: InputError) -> list[str]:
    """One line per problem, for the form to list row by row."""
    if isinstance(error, InputErrors):
        return [str(problem) for problem in error.problems[: InputErrors.MAX_LINES]] + (
            [f"... and {len(error.problems) - InputErrors.MAX_LINES} more"]
            if len(error.problems) > InputErrors.MAX_LINES
            else []
        )
    return [str(error)]


def dry_read_sites(rules_dir: Path, name: str, content: bytes) -> list[str]:
    """The intake's reading of a new bid's site list, writing nothing: its warnings, or the
    `InputError` it raises (naming the file as the person called it)."""
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.opportunity import read_sites
    from orchestrator.intake.site_checks import SiteRules
    from orchestrator.pipeline import renamed

    with tempfile.TemporaryDirectory(prefix="bid-web-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            read = read_sites(
                path,
                rules=SiteRules.from_catalogue(catalogue_for(rules_dir)),
                delivery=load_delivery(rules_dir),
            )
        except InputError as error:
            raise renamed(error, str(path), name) from None
        return [warning.replace(str(path), name) for warning in read.warnings]


MAX_QUOTE_FILE_BYTES = 10_000_000
"""A returned QRF of a few thousand sites is well under a megabyte."""


def check_returned_qrf(name: str, content: bytes) -> tuple[str, bytes]:
    """A returned QRF as the CSV the quote import reads: a `.csv` checked as a site list is
    (what it claims to be, no formulas), or an `.xlsx`'s first sheet as values — refused when
    it is not a real workbook or holds a formula. `InputError`s name file, row and column."""
    lower = name.lower()
    if not lower.endswith((".csv", ".xlsx")):
        raise InputError("a returned QRF is a .csv or .xlsx file", file=name)
    if len(content) > MAX_QUOTE_FILE_BYTES:
        raise InputError(
            f"is {len(content):,} bytes; a returned QRF is limited to "
            f"{MAX_QUOTE_FILE_BYTES:,} bytes",
            file=name,
        )
    if lower.endswith(".csv"):
        check_csv(name, content, max_bytes=MAX_QUOTE_FILE_BYTES, what="a returned QRF")
        return name, content
    return name.rsplit(".", 1)[0] + ".csv", _xlsx_values(name, content)


def _xlsx_values(name: str, content: bytes) -> bytes:
    """The first sheet's values as CSV (dates as ISO dates); formulas refused cell by cell."""
    import zipfile
    from datetime import date, datetime

    if not content.startswith(b"PK\x03\x04"):
        raise InputError("is named .xlsx but is not an Excel workbook", file=name)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise InputError("is a ZIP archive, not an Excel workbook", file=name)
    except zipfile.BadZipFile:
        raise InputError("is named .xlsx but is not an Excel workbook", file=name) from None
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception:
        raise InputError("cannot be read as an Excel workbook", file=name) from None
    try:
        sheet = book.worksheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        problems: list[InputError] = []
        header: list[str] = []
        for number, row in enumerate(sheet.iter_rows(), start=1):
            values: list[str] = []
            for index, cell in enumerate(row):
                value = cell.value
                if cell.data_type == "f" or (isinstance(value, str) and _FORMULA.match(value)):
                    column = header[index] if index < len(header) else str(index + 1)
                    problems.append(
                        InputError(
                            "is a spreadsheet formula; only values are taken",
                            file=name,
                            row=number,
                            field=column,
                        )
                    )
                    values.append("")
                elif isinstance(value, datetime):
                    values.append(value.date().isoformat())
                elif isinstance(value, date):
                    values.append(value.isoformat())
                elif isinstance(value, float) and value.is_integer():
                    values.append(str(int(value)))
                else:
                    values.append("" if value is None else str(value))
            if number == 1:
                header = [v.strip() for v in values]
            if any(v.strip() for v in values):
                writer.writerow(values)
    finally:
        book.close()
    if problems:
        raise InputErrors(name, problems) if len(problems) > 1 else problems[0]
    return out.getvalue().encode("utf-8")
