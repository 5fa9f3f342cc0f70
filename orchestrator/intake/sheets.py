"""Rows of a table a customer sends, found by its header: a CSV's header is row 1, and its
column names are matched as a person writes them ("Site ID", "site-id" and `site_id` are
one column). `intake.workbooks` reads the same `Table` from an .xlsx workbook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import InputError
from orchestrator.intake.files import csv_rows, read_text

XLSX_SUFFIXES = (".xlsx", ".xlsm")
_SPACES = re.compile(r"[\s-]+")


def column_key(text: str) -> str:
    """A header cell as a column name: "Site ID" and "site-id" are `site_id`."""
    return _SPACES.sub("_", text.strip().lower())


@dataclass
class Table:
    """A table read: its header (column names, in order), the header's row, and the rows
    after it as (row number, cells)."""

    header: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[str]]]


def csv_table(path: Path, *, max_bytes: int) -> Table:
    """The table of a CSV file (header on row 1); an .xlsx is refused with the way to read
    it (`bid sites import` reads workbooks, through `intake.workbooks`)."""
    if path.suffix.lower() in XLSX_SUFFIXES:
        raise InputError(
            "is an .xlsx workbook: import it with bid sites import, or save it as .csv",
            file=str(path),
        )
    read_text(path, max_bytes=max_bytes)  # size and encoding, one line each
    rows = csv_rows(path, max_bytes=max_bytes)
    _, cells = next(rows, (1, []))
    return Table([column_key(c) for c in cells], 1, rows)
