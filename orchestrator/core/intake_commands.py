"""The typed commands that resolve what an import flagged for a person: propose another
design for a site (`design.propose`), accept an outlier quote or ask the carrier again
(`quotes.accept`, `quotes.requote`); and the findings every import reports.

Pure like `orchestrator.core.commands`, which re-exports them and lists them in `COMMANDS`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.core.wire import MAX_TEXT, By, Command, FileUpload, Ref, Result

SITE_ID = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The site id")
ACCESS = Literal["fiber", "copper", "wireless", "4g", "5g"]


class FindingOut(BaseModel):
    """One thing an import found: a problem refuses the file, an exception is imported and
    waits for a person (`owner_role`)."""

    model_config = ConfigDict(extra="forbid")

    file: str
    row: int | None = None
    field: str | None = None
    value: str = ""
    kind: Literal["problem", "exception"]
    rule: str
    message: str
    site_id: str | None = None
    owner_role: str | None = None


class ProposeDesign(Command):
    """Propose another access (and bandwidth) for a site whose ask is an exception, with a
    reason; or many at once from a CSV (columns site_id, access, bandwidth_mbps, reason).
    The site keeps what the customer asked; its design task is resolved."""

    name: ClassVar[str] = "design.propose"
    cli: ClassVar[tuple[str, ...]] = ("design", "propose")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    site: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    access: ACCESS | None = None
    bandwidth: int | None = Field(default=None, ge=1, le=100_000)
    reason: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    file: FileUpload | None = None
    by: str | None = By

    @model_validator(mode="after")
    def _one_or_file(self) -> ProposeDesign:
        if self.file is not None:
            if self.site or self.access or self.bandwidth:
                raise ValueError("give --file, or --site with --access and --reason, not both")
            return self
        if not (self.site and self.access and self.reason and self.reason.strip()):
            raise ValueError("needs --site, --access and --reason (or --file proposals.csv)")
        return self


class AcceptQuote(Command):
    """Use a site's outlier quote as it is (a reason is kept on the trail); the margin then
    counts it."""

    name: ClassVar[str] = "quotes.accept"
    cli: ClassVar[tuple[str, ...]] = ("quotes", "accept")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    site: str = SITE_ID
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    by: str | None = By


class RequoteSite(Command):
    """Drop a site's outlier quote and ask the carrier again (the next `bid qrf`)."""

    name: ClassVar[str] = "quotes.requote"
    cli: ClassVar[tuple[str, ...]] = ("quotes", "requote")
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    site: str = SITE_ID
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    by: str | None = By


class DesignProposed(Result):
    """Sites given another design; how many exceptions that resolved and how many remain."""

    sites: list[str] = Field(default_factory=list)
    resolved: int = 0
    still_open: int = 0


class QuoteDecision(Result):
    """An outlier quote accepted or dropped; how many exceptions remain."""

    site: str
    quotes: int = 0
    still_open: int = 0


INTAKE_COMMANDS: dict[type[Command], type[Result]] = {
    ProposeDesign: DesignProposed,
    AcceptQuote: QuoteDecision,
    RequoteSite: QuoteDecision,
}


def finding_counts(findings: list[FindingOut]) -> dict[str, int]:
    """`counts` of an import's result: problems and exceptions."""
    return {
        "problems": sum(1 for f in findings if f.kind == "problem"),
        "exceptions": sum(1 for f in findings if f.kind == "exception"),
    }
