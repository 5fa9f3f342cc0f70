"""Rendering a bid's documents on request, outside any write transaction.

The renderer reads the bid in a read-only session (on SQLite it holds no write lock, so a
Slack click or another command never waits for a long render); the documents' rows are then
recorded in one short transaction. Rendering is deterministic, so a rerun rewrites the same
files and records nothing new.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.recording import record_documents
from orchestrator.context import Context
from orchestrator.lifecycle.table import WON_STATES
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import reading, transaction


def _record(ctx: Context, ref: str, produced: ProducedDocuments) -> None:
    with transaction(ctx.engine) as session:
        record_documents(session, get_opportunity(session, ref), produced)


def render_quote_requests(ctx: Context, ref: str, out_dir: Path | None = None) -> ProducedDocuments:
    """One QRF (.docx + .csv) per country and provider; internal tasks for in-house countries."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        folder = out_dir or ctx.output_dir_for(opportunity.ref)
        produced = ctx.documents.quote_requests(session, opportunity, folder)
    _record(ctx, ref, produced)
    return produced


def render_documents(ctx: Context, ref: str, out_dir: Path | None = None) -> ProducedDocuments:
    """QRFs, the proposal and the Bid Control Plan; after a win, the order sheet too."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        folder = out_dir or ctx.output_dir_for(opportunity.ref)
        produced = ctx.documents.bid_documents(session, opportunity, folder)
        if opportunity.state in WON_STATES:
            sheet = ctx.documents.order_sheet(session, opportunity, folder)
            produced = ProducedDocuments(
                documents=[*produced.documents, *sheet.documents],
                proposal_hash=produced.proposal_hash,
                problems=[*produced.problems, *sheet.problems],
                summary=produced.summary,
            )
    _record(ctx, ref, produced)
    return produced


def render_order_sheet(ctx: Context, ref: str, out_dir: Path | None = None) -> ProducedDocuments:
    """The clean order sheet (.docx and .xlsx) of a won bid."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        folder = out_dir or ctx.output_dir_for(opportunity.ref)
        produced = ctx.documents.order_sheet(session, opportunity, folder)
    _record(ctx, ref, produced)
    return produced


def render_kind(ctx: Context, ref: str, kind: str) -> ProducedDocuments:
    """One of the port's document sets by name (the Prefect UI's *generate documents*)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        folder = ctx.output_dir_for(opportunity.ref)
        if kind == "bid_documents":
            produced = ctx.documents.bid_documents(session, opportunity, folder)
        elif kind == "submission_package":
            produced = ctx.documents.submission_package(session, opportunity, folder)
        else:
            produced = ctx.documents.order_sheet(session, opportunity, folder)
    _record(ctx, ref, produced)
    return produced
