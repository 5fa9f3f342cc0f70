"""What a questionnaire import produces and an export consumes: plain rows, no file formats.

The bid layer reads these (it never loads openpyxl); `intake.questionnaire` reads the
customer's file into them and `documents.questionnaire` writes the answers back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.store.models import Compliance


@dataclass(frozen=True)
class ParsedRequirement:
    row: int
    req_id: str
    section: str
    text: str
    mandatory: bool
    answer: str | None = None
    compliance: Compliance | None = None


@dataclass(frozen=True)
class ParsedQuestionnaire:
    file_name: str
    content: bytes
    content_hash: str
    sheet: str | None
    header_row: int
    columns: dict[str, int]
    """Field → 1-based column number."""
    requirements: list[ParsedRequirement] = field(default_factory=list)
    headings: int = 0
    """Section heading rows read (not requirements)."""
    skipped_empty: int = 0


@dataclass(frozen=True)
class ExportRows:
    """A stored questionnaire and our answers: what the export writes into a copy of it."""

    file_name: str
    content: bytes
    sheet: str | None
    header_row: int
    columns: dict[str, int]
    answers: tuple[tuple[int, str, str | None, Compliance | None], ...]
    """(row, requirement id, answer, compliance) per requirement."""
