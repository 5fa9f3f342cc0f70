"""Handlers of the commands that produce a bid's files: QRFs, the bid's documents, a MACD
and its order sheet. Everything is written into the bid's own output folder (published like
every document); the result names the files, and a door copies them elsewhere itself."""

from __future__ import annotations

from typing import Any

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles
from orchestrator.ports import ProducedDocuments
from orchestrator.runtime.runner import FlowRunner


def produced(name: str, ref: str, files: ProducedDocuments) -> dict[str, Any]:
    """The fields of a result that names the files produced."""
    return {
        "command": name,
        "opportunity": ref,
        "proposal_hash": files.proposal_hash,
        "problems": list(files.problems),
        "documents": [
            c.Document(kind=d.kind, name=d.name, path=d.location, content_hash=d.content_hash)
            for d in files.documents
        ],
    }


@handles(c.SendQuoteRequests)
def _qrf(ctx: Context, command: c.SendQuoteRequests, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.sourcing import send_quote_requests

    done = send_quote_requests(ctx, command.opportunity, actor=actor)
    return c.QuoteRequestsSent(
        **{
            **produced(command.name, done.ref, done.produced),
            **done.produced.summary,
            **done.to_json(),
        }
    )


@handles(c.RenderDocuments)
def _docs(ctx: Context, command: c.RenderDocuments, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.facts import parse_ref
    from orchestrator.bid.trail.rendering import render_documents
    from orchestrator.store.models import format_ref

    files = render_documents(ctx, command.opportunity, pdf=command.pdf)
    return c.Produced(**produced(command.name, format_ref(parse_ref(command.opportunity)), files))


@handles(c.RecordMacd)
def _macd(ctx: Context, command: c.RecordMacd, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.closing.orders import record_macd

    changes = {
        "street": command.street,
        "postcode": command.postcode,
        "city": command.city,
        "country": command.country,
        "bandwidth_mbps": command.bandwidth,
        "access": command.access,
        "name": command.site_name,
        "service": command.service,
    }
    done = record_macd(
        ctx,
        command.opportunity,
        site_id=command.site,
        kind=command.kind,
        changes=changes,
        actor=actor,
        cost={
            "monthly": command.monthly_cost,
            "one_off": command.one_off_cost,
            "reference": command.provider_reference,
        },
    )
    order = done.order
    return c.MacdRecorded(
        **produced(command.name, done.ref, done.sheet),
        change_order={
            "id": order.id,
            "site_id": order.site_id,
            "kind": order.kind,
            "changes": order.changes,
            "actor": order.actor,
            "status": order.status.value,
        },
        held=done.held,
        change=done.outcome.to_json() if done.outcome else None,
    )
