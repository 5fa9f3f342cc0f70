"""Workbooks made to hurt: the .xlsx bombs of issue 23, written part by part (no openpyxl), so
building one costs a second however much it would cost to open.

- `million_rows`: 1,000,000 rows of one cell (issue: refused only after 316 s and 1.46 GB);
- `merged_bomb`: a 5 KB file with one merged range of four million cells (80 s, 2.0 GB);
- `whole_sheet_merge`: A1:XFD1048576 (out of memory at 5.7 GB);
- `expanding`: a few hundred KB that unzip to hundreds of MB (over 10 CPU-minutes);
- `many_merges`: more merged ranges than a sheet may hold;
- `questionnaire`: a small good one, the baseline every bomb is made from.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from functools import cache

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Requirements" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    b'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)


def _cell(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def _row(number: int, *cells: str) -> bytes:
    columns = "ABCDEFGH"
    inner = b"".join(_cell(f"{columns[i]}{number}", text) for i, text in enumerate(cells))
    return f'<row r="{number}">'.encode() + inner + b"</row>"


def _header_and_rows(count: int) -> Iterator[bytes]:
    yield _row(1, "Req ID", "Requirement", "Mandatory")
    for number in range(2, count + 2):
        yield _row(number, f"R{number - 1}", "The service is monitored around the clock.", "M")


def workbook(sheet_parts: Iterable[bytes], merges: Iterable[str] = (), *, level: int = 9) -> bytes:
    """An .xlsx of one sheet: its rows streamed in, then its merged ranges."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_START)
            chunk: list[bytes] = []
            size = 0
            for part in sheet_parts:
                chunk.append(part)
                size += len(part)
                if size > 1 << 20:
                    sheet.write(b"".join(chunk))
                    chunk, size = [], 0
            sheet.write(b"".join(chunk))
            sheet.write(b"</sheetData>")
            ranges = list(merges)
            if ranges:
                sheet.write(f'<mergeCells count="{len(ranges)}">'.encode())
                sheet.write(b"".join(f'<mergeCell ref="{r}"/>'.encode() for r in ranges))
                sheet.write(b"</mergeCells>")
            sheet.write(b"</worksheet>")
    return buffer.getvalue()


def questionnaire(rows: int = 3) -> bytes:
    return workbook(_header_and_rows(rows))


def million_rows() -> bytes:
    """1,000,000 rows of a number each: ~36 MB of sheet XML (within the unzipped limit, so
    the row budget is what refuses it)."""
    rows = (f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'.encode() for n in range(2, 1_000_002))
    return workbook([_row(1, "Req ID", "Requirement"), *rows], level=1)


def merged_bomb() -> bytes:
    """One merged range of 100 columns by 40,000 rows: four million cells, in ~2 KB."""
    return workbook(_header_and_rows(3), ["A10:CV40009"])


def wide_merged_bomb() -> bytes:
    """Four million cells within the row budget: every column of 245 rows."""
    return workbook(_header_and_rows(3), ["A10:XFD254"])


def whole_sheet_merge() -> bytes:
    return workbook(_header_and_rows(3), ["A1:XFD1048576"])


def many_merges(count: int = 10_001) -> bytes:
    return workbook(_header_and_rows(3), [f"E{n}:F{n}" for n in range(10, 10 + count)])


def expanding(megabytes: int = 390) -> bytes:
    """A sheet padded with white space: hundreds of MB unzipped, a few hundred KB zipped."""
    padding = b" " * (1 << 20)
    return workbook([*_header_and_rows(3), *(padding for _ in range(megabytes))])


@cache
def built(name: str) -> bytes:
    """A bomb of `BOMBS`, built once per process."""
    return BOMBS[name]()


BOMBS = {
    "1,000,000-row xlsx": million_rows,
    "4M-cell merged range in a 5 KB xlsx": merged_bomb,
    "4M-cell merge across every column": wide_merged_bomb,
    "whole-sheet merge": whole_sheet_merge,
    "10,001 merged ranges": many_merges,
    "390 MB unzipped from a small xlsx": expanding,
}
"""Name → builder; each is refused before openpyxl opens it."""
