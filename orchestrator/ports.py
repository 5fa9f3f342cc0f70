"""The ports the service layer talks through; real and test implementations plug in here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlmodel import Session

from orchestrator.store.models import Opportunity

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RenderedDocument:
    """One file written for a bid; `content_hash` is the hash of the inputs it was made from."""

    kind: str  # "qrf" | "qrf_csv" | "internal_quote_task" | "proposal" | "control_plan" | ...
    name: str  # stable logical name, e.g. "qrf-DE-telekom", "proposal"
    path: Path
    content_hash: str
    published: str | None = None
    """Where the document was published when the output folder is an object store (a URL)."""

    @property
    def location(self) -> str:
        """Where people find it: the published URL, else the file's path."""
        return self.published or str(self.path)


@dataclass(frozen=True)
class ProducedDocuments:
    """What one production step wrote, plus what the lifecycle needs to know about it."""

    documents: list[RenderedDocument] = field(default_factory=list)
    proposal_hash: str | None = None
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    """What the documents cover, as plain data (e.g. the QRF groups per country/provider)."""
    changed: frozenset[str] = frozenset()
    """The kinds of document whose content differs from the bid's last recorded one (set
    when the documents are recorded: a render that changed nothing shows nothing new)."""


@dataclass(frozen=True)
class DealVersion:
    """The bid version documents render from: its number and date, and its priced deal.

    `deal` is the bid layer's `Deal` (orchestrator.bid.measures.deal), priced once for the version;
    the ports sit below the layers that define it, hence `Any`. `recorded` is False for the
    next version not yet recorded (a draft); `submitted` when this version went to the
    customer, whose files are then never written again."""

    number: int
    day: date
    deal: Any
    recorded: bool = True
    submitted: bool = False
    submitted_on: date | None = None
    """The day it went to the customer (the date its submission letter carries)."""
    approvals: dict[str, Any] | None = None
    """What each approver decides on, per area (`bid.approval_summary.area_views`): the Bid
    Control Plan prints it as the approval pack."""

    @property
    def folder(self) -> str:
        """Where this version's files sent to the customer are kept, inside the bid's folder."""
        return f"v{self.number}"


class DocumentPort(Protocol):
    """Renders a bid's documents from the database rows into `out_dir`.

    Implementations are deterministic: the same inputs give the same files at the same
    paths and the same hashes, so a rerun after a crash rewrites, never duplicates.
    """

    def quote_requests(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """QRFs per country and provider (and internal quote tasks); `summary` the plan."""
        ...

    def bid_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """Bid production: QRFs per country/provider, the proposal, the Bid Control Plan.

        `proposal_hash` is the content hash of the proposal's inputs: the version approvers sign.
        With `version`, the proposal renders from its deal and carries its number.
        """
        ...

    def submission_package(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """The approved proposal and its annexes, assembled for the customer; with `version`,
        in the version's own folder (`out_dir / version.folder`), never rewritten once sent."""
        ...

    def order_sheet(
        self, session: Session, opportunity: Opportunity, out_dir: Path
    ) -> ProducedDocuments:
        """The clean order sheet after a win; `problems` lists lines that block ordering."""
        ...

    def current_documents(
        self,
        session: Session,
        opportunity: Opportunity,
        out_dir: Path,
        version: DealVersion | None = None,
    ) -> ProducedDocuments:
        """The documents that follow the bid's state (the Bid Control Plan, the proposal, the
        order sheet after a win), rendered again after every change of state."""
        ...

    def to_pdf(self, documents: list[RenderedDocument]) -> list[RenderedDocument]:
        """A PDF beside each .docx of `documents`."""
        ...


class MessagePort(Protocol):
    """The text of a notification for an event, from the facts of that event.

    The service layer queues notifications with their text; the adapter (Slack's mrkdwn
    templates) decides the words and the escaping of user text.
    """

    def render(self, event: str, **values: Any) -> str:
        """The message for `event` (a template per event, else the generic transition)."""
        ...


@dataclass(frozen=True)
class Decision:
    """One evaluation of one table: the facts, the answer, and the exact rule version used."""

    table: str
    rule_file: str
    rule_hash: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    matched_rows: list[str]
    evaluated_at: datetime


class RulesEngine(Protocol):
    """The rules-engine port: evaluate a named decision table over plain facts."""

    def evaluate(self, table: str, inputs: Mapping[str, Any]) -> Decision: ...


class DocumentStore(Protocol):
    """Where a bid's documents end up: rendered on this machine, published for everyone.

    With a plain output folder the renderer writes straight into it and publishing changes
    nothing; with an object store (an fsspec URL) it renders into a local staging folder and
    `publish` stores each file once under a content-addressed key, then under its human name.
    """

    def folder_for(self, ref: str) -> Path:
        """The local folder the renderer writes a bid's documents to."""
        ...

    def publish(self, ref: str, produced: ProducedDocuments) -> ProducedDocuments:
        """The same documents, published; their `published` says where (or None if local)."""
        ...
