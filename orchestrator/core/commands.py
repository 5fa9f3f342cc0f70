"""Every action a person or a schedule takes on a bid, as a typed command; every answer, as a
typed result.

A door (the CLI, the JSON API, Slack, a Prefect flow, the web workspace) builds one of these
commands and hands it to `orchestrator.pipeline.dispatch`; the handler returns one of the
results below, and the door prints or returns it. The models are the wire format of the JSON
API too (`POST /api/v1/commands/{name}`, the OpenAPI document), so their field names are
public: change them only with the doors and the docs.

This module is pure: pydantic and the standard library, no database, Prefect, Slack or docx.
Files travel as contents (`FileUpload`), never as paths that a service would open with its
own rights.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from orchestrator.core.account_commands import (
    ACCOUNT_COMMANDS,
    AccountsImported,
    CompetitorRecorded,
    ImportAccounts,
    RecordCompetitor,
    RenewalsScanned,
    ScanRenewals,
    SetTier,
    TierChanged,
)
from orchestrator.core.document_commands import (
    DOCUMENT_COMMANDS,
    Document,
    MacdRecorded,
    Produced,
    QuoteRequestsSent,
    RecordMacd,
    RenderDocuments,
    SendQuoteRequests,
)
from orchestrator.core.edit_commands import (
    EDIT_COMMANDS,
    AddSites,
    Changed,
    Edited,
    OpportunityUpdated,
    RemoveSites,
    SetOrderDetails,
    SetPricing,
    SetServiceStrategy,
    SetTerms,
    SitesChanged,
    StrategySet,
    TermsSet,
    UpdateOpportunity,
    UpdateSites,
)
from orchestrator.core.intake_commands import (
    INTAKE_COMMANDS,
    AcceptQuote,
    DesignProposed,
    FindingOut,
    ProposeDesign,
    QuoteDecision,
    RequoteSite,
    finding_counts,
)
from orchestrator.core.people_commands import (
    PEOPLE_COMMANDS,
    AddPerson,
    GrantRole,
    IssueToken,
    PersonAdded,
    PersonResult,
    PersonSet,
    RevokeRole,
    RoleGranted,
    RoleRevoked,
    SetPerson,
    TokenIssued,
)
from orchestrator.core.rfp_commands import (
    RFP_COMMANDS,
    AcceptSuggestions,
    AnswerRequirement,
    AssignRequirement,
    ImportLibrary,
    ImportRfp,
    LibraryImported,
    ReviewRequirement,
    RfpAnswered,
    RfpImported,
    RfpReviewed,
)
from orchestrator.core.submission_commands import (
    SUBMISSION_COMMANDS,
    HoldBid,
    HoldChanged,
    ResumeBid,
    SubmitOffer,
    Submitted,
)
from orchestrator.core.wire import (
    MAX_TEXT,
    MAX_UPLOAD_BYTES,
    REF_PATTERN,
    By,
    CarriedOn,
    Command,
    FileUpload,
    Moved,
    Ref,
    Result,
)

__all__ = [
    "MAX_TEXT",
    "MAX_UPLOAD_BYTES",
    "REF_PATTERN",
    "AcceptQuote",
    "AcceptSuggestions",
    "AccountsImported",
    "AddPerson",
    "AddSites",
    "AnswerRequirement",
    "AssignRequirement",
    "By",
    "CarriedOn",
    "Changed",
    "Command",
    "CompetitorRecorded",
    "DesignProposed",
    "Document",
    "Edited",
    "FileUpload",
    "FindingOut",
    "GrantRole",
    "HoldBid",
    "HoldChanged",
    "ImportAccounts",
    "ImportLibrary",
    "ImportRfp",
    "IssueToken",
    "LibraryImported",
    "MacdRecorded",
    "Moved",
    "OpportunityUpdated",
    "PersonAdded",
    "PersonResult",
    "PersonSet",
    "Produced",
    "ProposeDesign",
    "QuoteDecision",
    "QuoteRequestsSent",
    "RecordCompetitor",
    "RecordMacd",
    "Ref",
    "RemoveSites",
    "RenderDocuments",
    "RenewalsScanned",
    "RequoteSite",
    "Result",
    "ResumeBid",
    "ReviewRequirement",
    "RevokeRole",
    "RfpAnswered",
    "RfpImported",
    "RfpReviewed",
    "RoleGranted",
    "RoleRevoked",
    "ScanRenewals",
    "SendQuoteRequests",
    "SetOrderDetails",
    "SetPerson",
    "SetPricing",
    "SetServiceStrategy",
    "SetTerms",
    "SetTier",
    "SitesChanged",
    "StrategySet",
    "SubmitOffer",
    "Submitted",
    "TermsSet",
    "TierChanged",
    "TokenIssued",
    "UpdateOpportunity",
    "UpdateSites",
    "finding_counts",
]


class CreateOpportunity(Command):
    """Create an opportunity from its YAML."""

    name: ClassVar[str] = "opportunity.create"
    cli: ClassVar[tuple[str, ...]] = ("opportunity", "create")
    positional: ClassVar[tuple[str, ...]] = ("file",)
    file: FileUpload
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")


class ImportSites(Command):
    """Import a bid's sites (refused whole if any row is wrong)."""

    name: ClassVar[str] = "sites.import"
    cli: ClassVar[tuple[str, ...]] = ("sites", "import")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "file")
    opportunity: str = Ref
    file: FileUpload
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")
    sheet: str | None = Field(
        default=None, max_length=100, description="The .xlsx sheet (default: the first visible)"
    )


class Advance(Command):
    """Do the current step's automated work and move on when its guards allow."""

    name: ClassVar[str] = "advance"
    cli: ClassVar[tuple[str, ...]] = ("advance",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    by: str | None = By


class Decide(Command):
    """Record the go/no-go decision beside the rules' recommendation."""

    name: ClassVar[str] = "decide"
    cli: ClassVar[tuple[str, ...]] = ("decide",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    outcome: Literal["bid", "no_bid", "redefine_strategy"]
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    category: str | None = Field(default=None, max_length=100)
    by: str | None = By


class Approve(Command):
    """Grant or reject one governance approval, bound to the proposal version read."""

    name: ClassVar[str] = "approve"
    cli: ClassVar[tuple[str, ...]] = ("approve",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    area: Literal["technical", "financial", "legal", "management"]
    reject: bool = False
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    version: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{8,64}$")
    request_id: int | None = Field(
        default=None, ge=1, description="The approval request shown (refused once superseded)"
    )
    fingerprint: str | None = Field(
        default=None, max_length=128, description="The fingerprint of the summary shown"
    )
    override_duties: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="An admin's reason to override rules/duties.yaml (on the admin trail)",
    )
    by: str | None = By


class SetStrategy(Command):
    """Record the bid strategy (needed after 'redefine strategy')."""

    name: ClassVar[str] = "strategy"
    cli: ClassVar[tuple[str, ...]] = ("strategy",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "text")
    opportunity: str = Ref
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    by: str | None = By


class FreezeDesign(Command):
    """Freeze the solution design (a new version); a later change to sites or quotes reopens
    it."""

    name: ClassVar[str] = "freeze"
    cli: ClassVar[tuple[str, ...]] = ("freeze",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    note: str | None = Field(default=None, max_length=MAX_TEXT)
    by: str | None = By


class ImportQuotes(Command):
    """Import a provider's quote file: all rows or none; firm quotes supersede budgetary."""

    name: ClassVar[str] = "quotes.import"
    cli: ClassVar[tuple[str, ...]] = ("quotes", "import")
    positional: ClassVar[tuple[str, ...]] = ("opportunity", "file")
    opportunity: str = Ref
    file: FileUpload
    dry_run: bool = Field(default=False, description="Report what would happen; change nothing")
    by: str | None = By


class RecordResult(Command):
    """The customer's verdict: shortlisted, a best-and-final offer asked, won or lost."""

    name: ClassVar[str] = "result"
    cli: ClassVar[tuple[str, ...]] = ("result",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    outcome: Literal["shortlisted", "bafo", "won", "lost"]
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    category: str | None = Field(default=None, max_length=100)
    competitor: str | None = Field(default=None, max_length=200)
    price_gap: float | None = Field(default=None, ge=-1000, le=1000)
    deadline: date | None = None
    competitor_contract_end: date | None = None
    by: str | None = By

    @field_validator("price_gap")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("a finite number")
        return value

    @model_validator(mode="after")
    def _fits(self) -> RecordResult:
        if self.outcome != "shortlisted" and not (self.reason and self.reason.strip()):
            raise ValueError(f"{self.outcome} needs a reason")
        lost_only = (self.competitor, self.price_gap, self.competitor_contract_end)
        if self.outcome != "lost" and any(v is not None for v in lost_only):
            raise ValueError("competitor, competitor_contract_end and price_gap go with lost")
        if self.outcome != "bafo" and self.deadline is not None:
            raise ValueError("deadline goes with bafo")
        return self


class Withdraw(Command):
    """Withdraw a bid from any open step (approvals cancelled, milestones closed)."""

    name: ClassVar[str] = "withdraw"
    cli: ClassVar[tuple[str, ...]] = ("withdraw",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    category: str = Field(min_length=1, max_length=100)
    wake_up: date | None = None
    by: str | None = By


_TYPED: tuple[type[Command], ...] = (
    CreateOpportunity,
    ImportSites,
    Advance,
    Decide,
    Approve,
    SetStrategy,
    FreezeDesign,
    ImportQuotes,
    RecordResult,
    Withdraw,
    *EDIT_COMMANDS,
    *RFP_COMMANDS,
    *PEOPLE_COMMANDS,
    *ACCOUNT_COMMANDS,
    *DOCUMENT_COMMANDS,
    *INTAKE_COMMANDS,
    *SUBMISSION_COMMANDS,
)
COMMANDS: dict[str, type[Command]] = {command.name: command for command in _TYPED}
"""Every command the pipeline handles, by name."""


class Answered(Moved):
    """The customer's verdict or a withdrawal, recorded."""

    outcome: str | None = None
    category: str | None = None


class Frozen(Moved):
    """A design freeze: the version it made (or the one already frozen)."""

    design_version: int
    design_frozen: bool
    note: str | None = None


class Created(Result):
    """A new opportunity."""

    state: str


class SitesImported(Result):
    """Sites taken into a bid."""

    count: int
    warnings: list[str] = Field(default_factory=list)
    dry_run: bool = False
    findings: list[FindingOut] = Field(default_factory=list)
    """Every exception taken (design tasks), one per site and rule."""
    counts: dict[str, int] = Field(default_factory=dict)


class QuotesImported(Result):
    """A provider's quote file taken in (or found already imported)."""

    imported: int
    firm: int
    budgetary: int
    superseded: int
    expired: list[str] = Field(default_factory=list)
    margin_before_pct: float | None = None
    margin_after_pct: float | None = None
    margin_floor_pct: float | None = None
    invalidated_approvals: list[str] = Field(default_factory=list)
    content_hash: str
    already_imported: str | None = None
    answered_requests: list[Any] = Field(default_factory=list)
    open_criteria: list[Any] = Field(default_factory=list)
    change: dict[str, Any] | None = None
    dry_run: bool = False
    findings: list[FindingOut] = Field(default_factory=list)
    """Every outlier taken (waiting for bid quotes accept|requote)."""
    counts: dict[str, int] = Field(default_factory=dict)


RESULTS: dict[str, type[Result]] = {
    CreateOpportunity.name: Created,
    ImportSites.name: SitesImported,
    Advance.name: Moved,
    Decide.name: Moved,
    Approve.name: Moved,
    SetStrategy.name: Moved,
    FreezeDesign.name: Frozen,
    ImportQuotes.name: QuotesImported,
    RecordResult.name: Answered,
    Withdraw.name: Answered,
    **{command.name: result for command, result in EDIT_COMMANDS.items()},
    **{command.name: result for command, result in RFP_COMMANDS.items()},
    **{command.name: result for command, result in PEOPLE_COMMANDS.items()},
    **{command.name: result for command, result in ACCOUNT_COMMANDS.items()},
    **{command.name: result for command, result in DOCUMENT_COMMANDS.items()},
    **{command.name: result for command, result in INTAKE_COMMANDS.items()},
    **{command.name: result for command, result in SUBMISSION_COMMANDS.items()},
}
"""The result type of each command (the API's response models)."""
