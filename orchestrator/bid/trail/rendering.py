"""Rendering a bid's documents on request, outside any write transaction.

The renderer reads the bid in a read-only session (on SQLite it holds no write lock, so a
Slack click or another command never waits for a long render); the documents' rows are then
recorded in one short transaction. Rendering is deterministic, so a rerun rewrites the same
files and records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.trail.recording import record_changes, system_acting
from orchestrator.bid.trail.tasks import has_order_tasks, order_sheet_tasks
from orchestrator.bid.trail.versions import (
    attach_documents,
    latest_version,
    record_version,
    rendering_version,
    submitted_version,
)
from orchestrator.context import Context
from orchestrator.errors import PdfUnavailable
from orchestrator.lifecycle.table import WON_STATES, State
from orchestrator.ports import DealVersion, DocumentPort, ProducedDocuments
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Opportunity

Produce = Callable[
    [DocumentPort, Session, Opportunity, Path, DealVersion | None], ProducedDocuments
]


def _render(
    ctx: Context,
    ref: str,
    out_dir: Path | None,
    produce: Produce,
    *,
    pdf: bool = False,
    versioned: bool = True,
    tasks: bool = False,
    actor: str = "rules",
) -> ProducedDocuments:
    """Render in a read-only session from the bid's version (its deal priced once), then
    record the documents in one short transaction. A change made after the bid was
    submitted is recorded as the next version, whose files these are; the submitted
    version's files are not touched. PDFs that cannot be written leave the .docx files
    published and recorded, then raise (one line naming the document)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        canonical = opportunity.ref
        folder = out_dir or ctx.output_dir_for(canonical)
        version = rendering_version(session, ctx, opportunity) if versioned else None
        produced = produce(ctx.documents, session, opportunity, folder, version)
    failed: PdfUnavailable | None = None
    if pdf:
        try:
            pdfs = ctx.documents.to_pdf(produced.documents)
        except PdfUnavailable as error:  # the .docx files stand: published and recorded
            failed = error
        else:
            produced = replace(produced, documents=[*produced.documents, *pdfs])
    if out_dir is None:  # a folder the caller chose stays theirs; the bid's own is published
        produced = ctx.store.publish(canonical, produced)
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        _, changed = record_changes(session, opportunity, produced)
        produced = replace(produced, changed=frozenset(changed))
        recorded = latest_version(session, opportunity) if version is not None else None
        if version is not None and not version.recorded and submitted_version(session, opportunity):
            recorded = record_version(
                session,
                ctx,
                opportunity,
                reason="changed after submission",
                actor="rules",
                deal=version.deal,
                proposal_hash=produced.proposal_hash,
            )
        if version is not None and recorded is not None and recorded.number == version.number:
            attach_documents(session, opportunity, recorded, produced)
        if tasks:
            recheck_order_tasks(session, ctx, opportunity, produced, actor)
    if failed is not None:
        raise failed
    return produced


def recheck_order_tasks(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    produced: ProducedDocuments,
    actor: str = "rules",
) -> None:
    """The order sheet was rendered again (after a fix): its open tasks follow at once — a
    kind of problem fixed everywhere closes its task — without waiting for `bid advance`.
    Only once the won bid's step has opened its tasks (it asks the order manager first)."""
    if opportunity.state != State.CONTRACT_PREPARATION:
        return
    if not any(d.kind == "order_sheet" for d in produced.documents):
        return
    if not has_order_tasks(session, opportunity):
        return
    system, _ = system_acting(actor, "fix")
    order_sheet_tasks(session, ctx, opportunity, list(produced.problems), system, on_fix_of=actor)


def _bid_documents_and_order_sheet(
    port: DocumentPort,
    session: Session,
    opportunity: Opportunity,
    folder: Path,
    version: DealVersion | None = None,
) -> ProducedDocuments:
    produced = port.bid_documents(session, opportunity, folder, version)
    if opportunity.state not in WON_STATES:
        return produced
    sheet = port.order_sheet(session, opportunity, folder)
    return ProducedDocuments(  # the order sheet after a win
        documents=[*produced.documents, *sheet.documents],
        proposal_hash=produced.proposal_hash,
        problems=[*produced.problems, *sheet.problems],
        summary=produced.summary,
    )


SETS: dict[str, Produce] = {
    "quote_requests": lambda port, session, opp, folder, _: port.quote_requests(
        session, opp, folder
    ),
    "bid_documents": lambda port, *args: port.bid_documents(*args),
    "submission_package": lambda port, *args: port.submission_package(*args),
    "order_sheet": lambda port, session, opp, folder, _: port.order_sheet(session, opp, folder),
    "current_documents": lambda port, *args: port.current_documents(*args),
}
"""The document port's sets by name (the Prefect UI's *generate documents* form)."""
VERSIONED = frozenset({"bid_documents", "submission_package", "current_documents"})
"""The sets that render a bid version (the proposal); the others read no deal."""


def render_quote_requests(ctx: Context, ref: str, out_dir: Path | None = None) -> ProducedDocuments:
    """One QRF (.docx + .csv) per country and provider; internal tasks for in-house countries."""
    return _render(ctx, ref, out_dir, SETS["quote_requests"], versioned=False)


def render_documents(
    ctx: Context, ref: str, out_dir: Path | None = None, *, pdf: bool = False
) -> ProducedDocuments:
    """QRFs, the proposal and the Bid Control Plan; after a win, the order sheet too;
    with `pdf`, a PDF beside each .docx."""
    return _render(ctx, ref, out_dir, _bid_documents_and_order_sheet, pdf=pdf)


def refresh_documents(ctx: Context, ref: str, actor: str = "rules") -> ProducedDocuments:
    """The documents that follow the bid, rendered again after it moved: the Bid Control
    Plan, the proposal, the order sheet after a win (`DocumentPort.current_documents`).
    Every move writes a `render` effect (bid/trail/recording.py); the dispatcher runs this for it
    once the move is committed, and retries it when it fails (`orchestrator.dispatch`)."""
    return _render(ctx, ref, None, SETS["current_documents"], tasks=True, actor=actor)


def render_order_sheet(ctx: Context, ref: str, out_dir: Path | None = None) -> ProducedDocuments:
    """The clean order sheet (.docx and .xlsx) of a won bid."""
    return _render(ctx, ref, out_dir, SETS["order_sheet"], versioned=False, tasks=True)


def render_set(ctx: Context, ref: str, name: str) -> ProducedDocuments:
    """One of the port's document sets by name, into the bid's output folder."""
    return _render(ctx, ref, None, SETS[name], versioned=name in VERSIONED)
