"""The answer library written out as YAML or CSV (what `bid rfp library import` reads)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from orchestrator.documents.files import atomic_write
from orchestrator.errors import InputError
from orchestrator.intake.answer_library import COUNT_COLUMNS, LIBRARY_COLUMNS
from orchestrator.text import spreadsheet_cell


def write_library(rows: list[dict[str, Any]], path: Path) -> None:
    """Every answer with its fields and usage counts; CSV cells neutralised for spreadsheets."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(
            {
                "answers": [
                    {key: row[key] for key in (*LIBRARY_COLUMNS, *COUNT_COLUMNS)} for row in rows
                ]
            },
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
    elif suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*LIBRARY_COLUMNS, *COUNT_COLUMNS])
        for row in rows:
            values = {**row, "tags": ";".join(row["tags"]), "owner_role": row["owner_role"] or ""}
            writer.writerow(
                [spreadsheet_cell(values[key]) for key in (*LIBRARY_COLUMNS, *COUNT_COLUMNS)]
            )
        text = buffer.getvalue()
    else:
        raise InputError("must end in .yaml or .csv", file=str(path))
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
