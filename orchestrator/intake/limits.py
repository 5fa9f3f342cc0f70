"""The limits of `config.LIMITS`, checked before the work: each refusal one line naming it.

Free text a person types (a reason, a title, a note), amounts, dates, the number of sites in a
bid, and the shape of an .xlsx workbook — its unzipped size, its rows and its merged ranges —
read from the zip's directory and a streaming scan of each sheet's XML before openpyxl opens
it (openpyxl expands every merged range into cell objects, and a 5 KB file can ask for
seventeen billion of them).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from orchestrator.config import LIMITS, Limits
from orchestrator.errors import InputError
from orchestrator.text import has_control_characters


def free_text(
    value: str | None,
    field: str,
    *,
    required: bool = True,
    newlines: bool = False,
    limits: Limits = LIMITS,
) -> str:
    """The text stripped; refused when empty (if `required`), past the free-text limit, or
    holding a control character (line breaks only where `newlines`)."""
    text = (value or "").strip()
    if required and not text:
        raise InputError("is empty", field=field)
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > limits.free_text_bytes:
        raise InputError(
            f"is {size:,} bytes, more than the limit of {limits.free_text_bytes:,} bytes "
            "for free text",
            field=field,
        )
    if has_control_characters(text, newlines=newlines):
        raise InputError(
            "contains a control character (free text is printable characters only)",
            field=field,
        )
    return text


def optional_free_text(value: str | None, field: str, *, newlines: bool = False) -> str | None:
    """`free_text` for an optional field: None (or blank) stays None."""
    if value is None or not value.strip():
        return None
    return free_text(value, field, newlines=newlines)


def amount(
    value: float,
    field: str,
    *,
    file: str | None = None,
    row: int | None = None,
    limits: Limits = LIMITS,
) -> float:
    """A finite amount from 0 to the limit (`inf`, `nan`, `1e308` refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"'{value}' is not a number", file=file, row=row, field=field)
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= limits.amount:
        raise InputError(
            f"{_shown(number)} is not a finite amount from 0 to {limits.amount:,.0f} "
            "(the limit for amounts)",
            file=file,
            row=row,
            field=field,
        )
    return number


def _shown(number: float) -> str:
    return repr(number) if not math.isfinite(number) or abs(number) >= 1e15 else f"{number:g}"


def horizon(today: date, limits: Limits = LIMITS) -> date:
    """The last day a date may name: the end of the year `years_ahead` from today."""
    return date(min(today.year + limits.years_ahead, 9999), 12, 31)


def date_within(
    value: date,
    today: date,
    field: str,
    *,
    file: str | None = None,
    row: int | None = None,
    limits: Limits = LIMITS,
) -> date:
    """A date no later than `horizon(today)`: a firm quote valid until 2999 is a typo."""
    if value > horizon(today, limits):
        raise InputError(
            f"{value.isoformat()} is more than {limits.years_ahead} years ahead "
            "(the limit for dates)",
            file=file,
            row=row,
            field=field,
        )
    return value


def sites_within(
    count: int, *, file: str | None = None, row: int | None = None, limits: Limits = LIMITS
) -> None:
    """Refuse a bid that would hold more sites than the limit."""
    if count > limits.sites_per_bid:
        raise InputError(
            f"more than {limits.sites_per_bid:,} sites in one bid (the limit of sites per bid)",
            file=file,
            row=row,
        )


# --- workbooks ----------------------------------------------------------------------------------

_CELL = re.compile(rb"^\$?([A-Z]{1,3})\$?([0-9]{1,7})$")
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\b([^>]*)>")
_ROW_NUMBER = re.compile(rb"\br=\"([0-9]{1,9})\"")
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=\"([^\"]{1,40})\"")
_CHUNK = 1 << 20
_OVERLAP = 512
_MARGIN = 256
"""A chunk's last `_MARGIN` bytes are read again with the next one (within `_OVERLAP`), so a
tag split by a chunk boundary is seen whole once (a `<row>` or `<mergeCell>` tag is shorter)."""


@dataclass(frozen=True)
class MergedRange:
    """A merged range of a sheet, 1-based and inclusive."""

    min_row: int
    min_col: int
    max_row: int
    max_col: int

    @property
    def cells(self) -> int:
        return (self.max_row - self.min_row + 1) * (self.max_col - self.min_col + 1)


def _column(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number


def _merged(ref: bytes) -> MergedRange | None:
    first, _, last = ref.partition(b":")
    start, end = _CELL.match(first), _CELL.match(last or first)
    if start is None or end is None:
        return None
    r1, c1 = int(start.group(2)), _column(start.group(1))
    r2, c2 = int(end.group(2)), _column(end.group(1))
    return MergedRange(min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))


def _chunks(archive: zipfile.ZipFile, member: str) -> Iterator[tuple[bytes, int, bool]]:
    """The member's bytes in chunks, each after the last `_OVERLAP` bytes of the one before:
    (block, length of that carried tail, whether this is the last block)."""
    with archive.open(member) as handle:
        tail = b""
        while True:
            data = handle.read(_CHUNK)
            if not data:
                yield tail, len(tail), True
                return
            block = tail + data
            yield block, len(tail), False
            tail = block[-_OVERLAP:]


def _fresh(
    matches: Iterator[re.Match[bytes]], block: bytes, carried: int, last: bool
) -> Iterator[re.Match[bytes]]:
    """The matches this block is the one to count: not counted with the block before (which
    took those ending before its last `_MARGIN` bytes), and whole (not ending in the margin
    the next block reads again)."""
    for match in matches:
        if match.end() <= carried - _MARGIN:
            continue
        if not last and match.end() > len(block) - _MARGIN:
            continue
        yield match


def _scan_sheet(
    archive: zipfile.ZipFile, member: str, name: str, title: str, limits: Limits
) -> list[MergedRange]:
    """The sheet's merged ranges; refused on a row past the row budget, too many merged
    ranges or too many merged cells — while streaming, before anything is expanded."""
    merged: list[MergedRange] = []
    covered = 0
    row = 0
    for block, carried, last in _chunks(archive, member):
        for match in _fresh(_ROW.finditer(block), block, carried, last):
            number = _ROW_NUMBER.search(match.group(1))
            row = int(number.group(1)) if number else row + 1
            if row > limits.sheet_rows:
                raise InputError(
                    f"sheet '{title}' has more than {limits.sheet_rows:,} rows "
                    "(the limit of rows per sheet)",
                    file=name,
                )
        for match in _fresh(_MERGE.finditer(block), block, carried, last):
            rng = _merged(match.group(1))
            if rng is None:
                continue
            merged.append(rng)
            covered += rng.cells
            if len(merged) > limits.merged_ranges:
                raise InputError(
                    f"sheet '{title}' has more than {limits.merged_ranges:,} merged ranges "
                    "(the limit of merged ranges per sheet)",
                    file=name,
                )
            if covered > limits.merged_cells or rng.max_row > limits.sheet_rows:
                raise InputError(
                    f"sheet '{title}': merged cells {match.group(1).decode()} take the sheet "
                    f"past {limits.merged_cells:,} merged cells or {limits.sheet_rows:,} rows "
                    "(the limit of merged cells per sheet)",
                    file=name,
                )
    return merged


_SHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\b([^>]*)/?>")
_ATTR = re.compile(rb"([\w:]+)=\"([^\"]*)\"")
_RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\b([^>]*)/?>")


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title → the zip member holding its XML (workbook.xml and its relationships)."""
    try:
        workbook = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return {}
    targets: dict[bytes, str] = {}
    for match in _RELATIONSHIP.finditer(rels):
        attrs = dict(_ATTR.findall(match.group(1)))
        target = attrs.get(b"Target", b"").decode("utf-8", "replace")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[attrs.get(b"Id", b"")] = target
    parts: dict[str, str] = {}
    for match in _SHEET.finditer(workbook):
        attrs = {key.split(b":")[-1]: value for key, value in _ATTR.findall(match.group(1))}
        title = attrs.get(b"name", b"").decode("utf-8", "replace")
        target = targets.get(attrs.get(b"id", b""))
        if target:
            parts[_unescape(title)] = target
    return parts


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def check_workbook(
    name: str, content: bytes, limits: Limits = LIMITS
) -> dict[str, list[MergedRange]]:
    """Refuse a workbook past the limits before it is opened; its merged ranges by sheet
    title (openpyxl's read-only mode, which streams the cells, does not read them)."""
    if len(content) > limits.workbook_bytes:
        raise InputError(
            f"is larger than {limits.workbook_bytes:,} bytes (the limit of bytes per file)",
            file=name,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            unzipped = sum(info.file_size for info in members)
            if unzipped > limits.workbook_unzipped_bytes:
                raise InputError(
                    f"expands to {unzipped:,} bytes, more than "
                    f"{limits.workbook_unzipped_bytes:,} (the limit of a workbook's unzipped "
                    "size)",
                    file=name,
                )
            known = {info.filename for info in members}
            return {
                title: _scan_sheet(archive, member, name, title, limits)
                for title, member in _sheet_parts(archive).items()
                if member in known
            }
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise InputError("is not an .xlsx workbook (save it as .xlsx or .csv)", file=name) from None
    except NotImplementedError:  # a compression method zipfile does not know
        raise InputError("is not an .xlsx workbook (save it as .xlsx or .csv)", file=name) from None
