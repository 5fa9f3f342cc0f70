"""The typed commands of the customer's questionnaire and the answer library: import the
questionnaire, answer a requirement (from the library, edited, or in our words), accept the
library's suggestions, assign a requirement to its owner, review an answer, import library
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
    """Record the answer to one requirement: a library answer, a library answer edited
    (`library` and `text`), our own text, or none (`clear`), with its compliance."""

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
    """Answer every unanswered requirement with its best library answer when the matcher is
    sure enough: at the calibrated threshold of rules/rfp.yaml (no `min_score`), or at the
    score a person picks; the others get their best answer as a draft for their owner. A
    first pass people then review: the compliance stays "to review"."""

    name: ClassVar[str] = "rfp.suggest.accept"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "suggest")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    min_score: float | None = Field(default=None, ge=0, le=100)
    by: str | None = By

    @field_validator("min_score")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("a finite number")
        return value


class AssignRequirement(Command):
    """Make a person (with a role on the bid) the owner who answers one requirement."""

    name: ClassVar[str] = "rfp.assign"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "assign")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "requirement")
    opportunity: str = Ref
    requirement: str = Field(min_length=1, max_length=200)
    to: str = Field(min_length=3, max_length=320, description="The new owner's e-mail")
    by: str | None = By


class ReviewRequirement(Command):
    """The reviewer's verdict on one answer: accepted (reviewed; its compliance confirmed;
    with `save_to_library` kept in the answer library) or rejected with a reason."""

    name: ClassVar[str] = "rfp.review"
    cli: ClassVar[tuple[str, ...]] = ("rfp", "review")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "requirement")
    opportunity: str = Ref
    requirement: str = Field(min_length=1, max_length=200)
    reject: bool = False
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    save_to_library: bool = False
    by: str | None = By


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
    """The requirements answered (or cleared) by the command, and those given a draft."""

    answered: list[str] = Field(default_factory=list)
    drafts: list[str] = Field(default_factory=list)


class RfpReviewed(Result):
    """One requirement after its assignment or review: its state and owner, and the library
    answer a reviewed answer was saved to."""

    requirement: str
    state: str
    owner: str | None = None
    library: str | None = None


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
    AssignRequirement: RfpReviewed,
    ReviewRequirement: RfpReviewed,
    ImportLibrary: LibraryImported,
}
"""The commands of this module and the result type of each."""
