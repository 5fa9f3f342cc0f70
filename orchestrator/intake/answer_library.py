"""Reading an answer library file (YAML or CSV) into checked entries; all rows or none.

YAML::

    answers:
      - id: SEC-001                      # letters, digits, ._- ; the same id updates the entry
        question: Do you hold ISO 27001?  # what it answers, as customers usually ask it
        answer: Yes. Our network operations are ISO/IEC 27001 certified since 2015 ...
        compliance: comply               # comply | partial | non_comply | n_a (default comply)
        tags: [security, certification]
        owner: sofie.claes@example.com
        owner_role: solution_consultant  # optional: the role that keeps it true
        last_reviewed: 2026-09-01
        review_months: 12                # optional (rules/rfp.yaml library.review_months)

CSV: the same fields as columns (`tags` separated by `;`). The export writes both, with
the usage counts, which an import ignores (they are counted from the bids).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from orchestrator.config import LIMITS
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.files import csv_rows, load_yaml
from orchestrator.intake.people import EMAIL_PATTERN
from orchestrator.store.models import Compliance, Role
from orchestrator.text import has_control_characters

LIBRARY_COLUMNS = (
    "id",
    "question",
    "answer",
    "compliance",
    "tags",
    "owner",
    "owner_role",
    "last_reviewed",
    "review_months",
)
COUNT_COLUMNS = ("used", "used_in_won_bids", "review_due")
ANSWER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ANSWER = 20_000
MAX_LIBRARY_BYTES = LIMITS.upload_bytes


@dataclass(frozen=True)
class LibraryEntry:
    answer_id: str
    question: str
    answer: str
    compliance: Compliance
    tags: tuple[str, ...]
    owner: str
    last_reviewed: date
    review_months: int | None
    owner_role: str | None = None


def _entry(raw: dict[str, Any], file: str, row: int | None, today: date) -> LibraryEntry:
    def bad(field: str, message: str) -> InputError:
        return InputError(message, file=file, row=row, field=field)

    def text(field: str, limit: int, *, newlines: bool = False) -> str:
        value = raw.get(field)
        value = "" if value is None else str(value).strip()
        if not value:
            raise bad(field, "is empty")
        if len(value) > limit:
            raise bad(field, f"is longer than {limit:,} characters")
        if has_control_characters(value, newlines=newlines):
            raise bad(field, "contains a control character")
        return value

    answer_id = text("id", 64)
    if not ANSWER_ID.match(answer_id):
        raise bad("id", f"'{answer_id}' may hold only letters, digits and ._-")
    owner = text("owner", 254).lower()
    if not re.match(EMAIL_PATTERN, owner):
        raise bad("owner", f"'{owner}' is not an e-mail address")
    raw_role = raw.get("owner_role")
    owner_role = None if raw_role in (None, "") else str(raw_role).strip().lower()
    if owner_role is not None and owner_role not in {r.value for r in Role}:
        raise bad(
            "owner_role",
            f"'{owner_role}' is not one of {', '.join(sorted(r.value for r in Role))}",
        )
    raw_compliance = str(raw.get("compliance") or "comply").strip().lower()
    try:
        compliance = Compliance(raw_compliance)
    except ValueError:
        raise bad(
            "compliance",
            f"'{raw_compliance}' is not one of {', '.join(c.value for c in Compliance)}",
        ) from None
    tags_value = raw.get("tags") or []
    if isinstance(tags_value, str):
        tags_value = [t for t in tags_value.split(";")]
    if not isinstance(tags_value, list):
        raise bad("tags", "must be a list (or ;-separated in CSV)")
    tags = tuple(dict.fromkeys(str(t).strip().lower() for t in tags_value if str(t).strip()))
    if any(len(t) > 60 or has_control_characters(t) for t in tags):
        raise bad("tags", "a tag is longer than 60 characters or holds a control character")
    reviewed = raw.get("last_reviewed")
    if isinstance(reviewed, str):
        try:
            reviewed = date.fromisoformat(reviewed.strip())
        except ValueError:
            raise bad("last_reviewed", f"'{reviewed}' is not a date (YYYY-MM-DD)") from None
    if not isinstance(reviewed, date):
        raise bad("last_reviewed", "must be a date (YYYY-MM-DD)")
    if reviewed > today:
        raise bad("last_reviewed", f"{reviewed.isoformat()} is in the future")
    months_value = raw.get("review_months")
    months: int | None = None
    if months_value not in (None, ""):
        try:
            months = int(str(months_value).strip())
        except ValueError:
            raise bad("review_months", f"'{months_value}' is not a whole number") from None
        if not 1 <= months <= 120:
            raise bad("review_months", "must be from 1 to 120")
    return LibraryEntry(
        answer_id=answer_id,
        question=text("question", MAX_ANSWER, newlines=True),
        answer=text("answer", MAX_ANSWER, newlines=True),
        compliance=compliance,
        tags=tags,
        owner=owner,
        last_reviewed=reviewed,
        review_months=months,
        owner_role=owner_role,
    )


def parse_library(path: Path, today: date) -> list[LibraryEntry]:
    """Read and check an answer library file; any bad entry refuses the file."""
    name = str(path)
    entries: list[LibraryEntry] = []
    problems: list[InputError] = []
    seen: dict[str, int | None] = {}
    items: list[tuple[int | None, dict[str, Any]]] = []
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        data, root = load_yaml(path, max_bytes=MAX_LIBRARY_BYTES)
        answers = data.get("answers") if isinstance(data, dict) else None
        if not isinstance(answers, list):
            raise InputError("expected a list under 'answers:'", file=name, field="answers")
        nodes = []
        if root is not None and hasattr(root, "value"):
            for key, value in root.value:
                if getattr(key, "value", None) == "answers" and hasattr(value, "value"):
                    nodes = value.value
        for index, item in enumerate(answers):
            line = nodes[index].start_mark.line + 1 if index < len(nodes) else None
            if not isinstance(item, dict):
                problems.append(InputError("must be a mapping", file=name, row=line))
                continue
            unknown = sorted(set(map(str, item)) - set(LIBRARY_COLUMNS) - set(COUNT_COLUMNS))
            if unknown:
                problems.append(InputError("unknown field", file=name, row=line, field=unknown[0]))
                continue
            items.append((line, item))
    elif suffix == ".csv":
        rows = csv_rows(path, max_bytes=MAX_LIBRARY_BYTES, max_field=MAX_ANSWER + 1)
        _, header = next(rows, (1, []))
        header = [h.strip() for h in header]
        missing = [
            c for c in ("id", "question", "answer", "owner", "last_reviewed") if c not in header
        ]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", file=name, row=1)
        unknown = [c for c in header if c not in LIBRARY_COLUMNS and c not in COUNT_COLUMNS]
        if unknown:
            raise InputError("unknown column", file=name, row=1, field=unknown[0])
        for line, cells in rows:
            if len(cells) > len(header):
                problems.append(InputError("more values than columns", file=name, row=line))
                continue
            items.append((line, dict(zip(header, cells, strict=False))))
    else:
        raise InputError("is neither .yaml nor .csv", file=name)
    for line, item in items:
        try:
            entry = _entry(item, name, line, today)
        except InputError as problem:
            problems.append(problem)
            continue
        if entry.answer_id in seen:
            problems.append(
                InputError(
                    f"duplicate answer id '{entry.answer_id}' "
                    f"(first on row {seen[entry.answer_id]})",
                    file=name,
                    row=line,
                    field="id",
                )
            )
            continue
        seen[entry.answer_id] = line
        entries.append(entry)
    if problems:
        raise InputErrors(name, problems)
    if not entries:
        raise InputError("holds no answers", file=name)
    return entries
