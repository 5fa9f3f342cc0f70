"""The typed commands of the customer's questionnaire and the answer library: import the
questionnaire, answer a requirement, accept the library's suggestions, import library
answers.

Pure like `orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from orchestrator.core.wire import MAX_TEXT, By, Command, FileUpload, Ref, Result


class ImportRfp(Command):
    """Import the requirements of the customer's questionnaire (.xlsx or .csv; all rows or
    none). `columns` maps a field (id, section, text, mandatory, answer, compliance) to the
    header or column letter that holds it."""

    name: ClassVar[str] = "rfp.import"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "import")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "file")
    opportunity: str = Ref
    file: FileUpload
    sheet: str | None = Field(default=None, max_length=200)
    columns: dict[str, str] = Field(default_factory=dict, max_length=20)
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")
    by: str | None = By


class AnswerRequirement(Command):
    """Record the answer to one requirement: a library answer, our own text, or none
    (`clear`), with its compliance."""

    name: ClassVar[str] = "rfp.answer"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "answer")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "requirement")
    opportunity: str = Ref
    requirement: str = Field(min_length=1, max_length=200)
    library: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=4 * MAX_TEXT)
    compliance: str | None = Field(default=None, max_length=32)
    clear: bool = False
    by: str | None = By


class AcceptSuggestions(Command):
    """Answer every unanswered requirement with its best library answer scoring at least
    `min_score` (a first pass people then review)."""

    name: ClassVar[str] = "rfp.suggest.accept"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "suggest")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    min_score: float = Field(ge=0, le=200)
    by: str | None = By

    @field_validator("min_score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("a finite number")
        return value


class ImportLibrary(Command):
    """Add or update answer-library entries from a file (.yaml or .csv), or with `starter`
    the starter library shipped in rules/; the same id updates; all entries or none."""

    name: ClassVar[str] = "rfp.library.import"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "library", "import")
    positional: ClassVar[tuple[str, ...]] = ("file",)
    file: FileUpload | None = None
    starter: bool = False
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")
    by: str | None = By

    @model_validator(mode="after")
    def _one(self) -> ImportLibrary:
        if (self.file is None) == (not self.starter):
            raise ValueError("give a FILE or --starter")
        return self


# --- results ----------------------------------------------------------------------------------


class RfpImported(Result):
    """A questionnaire taken in (or found already imported): what its requirements did."""

    file: str
    added: int
    updated: int
    removed: int
    kept_answers: int
    mandatory: int
    section_headings: int
    already_imported: bool
    sheet: str | None = None
    header_row: int
    requirements: int


class RfpAnswered(Result):
    """The requirements answered (or cleared) by the command."""

    answered: list[str] = Field(default_factory=list)


class LibraryImported(Result):
    """Library entries added, updated, or found unchanged."""

    file: str
    entries: int
    added: int
    updated: int
    unchanged: int


RFP_COMMANDS: dict[type[Command], type[Result]] = {
    ImportRfp: RfpImported,
    AnswerRequirement: RfpAnswered,
    AcceptSuggestions: RfpAnswered,
    ImportLibrary: LibraryImported,
}
"""The commands of this module and the result type of each."""
