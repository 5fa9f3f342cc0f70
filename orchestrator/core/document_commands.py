"""The typed commands that produce a bid's files: the quote requests (QRFs) sent to the
providers, the bid's documents, and a move, add, change or delete (MACD) on a contracted
bid, which renders the order sheet again.

The files are written into the bid's own output folder (published like every document); a
result names them. A door that wants them elsewhere copies them itself, with its user's
rights (the CLI's `--out`). Pure like `orchestrator.core.commands`, which re-exports them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from orchestrator.core.wire import By, Command, Ref, Result


class SendQuoteRequests(Command):
    """Write and record one QRF (.docx + .csv) per country and provider, with its reply-by
    date; BE/NL get internal tasks; unsourced sites are listed in unsourced.csv."""

    name: ClassVar[str] = "qrf"
    cli: ClassVar[tuple[str, ...]] = ("qrf",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    by: str | None = By


class RenderDocuments(Command):
    """Render the QRFs, the proposal (+ compliance matrix) and the Bid Control Plan; after a
    win, the order sheet; with `pdf`, a PDF beside each .docx."""

    name: ClassVar[str] = "docs"
    cli: ClassVar[tuple[str, ...]] = ("docs",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    pdf: bool = False


class RecordMacd(Command):
    """Record a move, add, change or delete on a contracted bid's site (applied, or held for
    the financial approval) and render the order sheet again."""

    name: ClassVar[str] = "macd"
    cli: ClassVar[tuple[str, ...]] = ("macd",)
    positional: ClassVar[tuple[str, ...]] = ("opportunity",)
    opportunity: str = Ref
    site: str = Field(min_length=1, max_length=64)
    kind: str = Field(max_length=16, description="move | add | change | delete")
    street: str | None = Field(default=None, max_length=300)
    postcode: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=8)
    bandwidth: int | None = Field(default=None, description="Mbps")
    access: str | None = Field(default=None, max_length=64)
    site_name: str | None = Field(default=None, max_length=300, alias="name")
    service: str | None = Field(default=None, max_length=64)
    monthly_cost: float | None = Field(
        default=None, description="The carrier's new monthly cost for the site (a new quote)"
    )
    one_off_cost: float | None = Field(
        default=None, description="The carrier's new one-off cost for the site (a new quote)"
    )
    provider_reference: str | None = Field(
        default=None, max_length=120, description="The carrier's reference for the new quote"
    )
    by: str | None = By


# --- results ----------------------------------------------------------------------------------


class Document(BaseModel):
    """One file produced: its kind, name, where it is kept and the hash of its content."""

    kind: str
    name: str
    path: str
    content_hash: str


class Produced(Result):
    """The files a command produced, the proposal version they carry, and any problems."""

    proposal_hash: str | None = None
    problems: list[str] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)


class QuoteRequestsSent(Produced):
    """The QRFs written and recorded: the plan (groups, in-house tasks, unserved sites), the
    requests with their reply-by dates, and the sites nobody quotes."""

    groups: list[dict[str, Any]] = Field(default_factory=list)
    in_house: list[dict[str, Any]] = Field(default_factory=list)
    unserved: list[str] = Field(default_factory=list)
    requests: list[dict[str, Any]] = Field(default_factory=list)
    recorded: int = 0
    per_country: list[dict[str, Any]] = Field(default_factory=list)
    unsourced: list[dict[str, Any]] = Field(default_factory=list)
    fallback_configured: bool = False


class MacdRecorded(Produced):
    """The change order recorded (`held`: awaiting the financial approval) and the order
    sheet rendered again."""

    change_order: dict[str, Any]
    held: bool
    change: dict[str, Any] | None = None


DOCUMENT_COMMANDS: dict[type[Command], type[Result]] = {
    SendQuoteRequests: QuoteRequestsSent,
    RenderDocuments: Produced,
    RecordMacd: MacdRecorded,
}
"""The commands of this module and the result type of each."""
