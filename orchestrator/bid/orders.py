"""MACDs on a contracted bid: the change recorded with its audit event, then the order sheet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.people import check_actor
from orchestrator.bid.recording import audit, refusals_kept
from orchestrator.bid.rendering import render_order_sheet
from orchestrator.commercial.orders import record_macd as apply_macd
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import transaction
from orchestrator.store.models import ChangeOrder


@dataclass(frozen=True)
class MacdResult:
    ref: str
    order: ChangeOrder
    sheet: ProducedDocuments


def record_macd(
    ctx: Context,
    ref: str,
    *,
    site_id: str,
    kind: str,
    changes: dict[str, Any],
    actor: str,
    out_dir: Path | None = None,
) -> MacdResult:
    """Record a move, add, change or delete, then render the order sheet again."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    with refusals_kept(ctx, ref, "macd", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        order = apply_macd(
            session,
            opportunity,
            site_id=site_id,
            kind=kind,
            changes=changes,
            actor=actor,
            catalogue=catalogue,
            now=ctx.clock(),
        )
        audit(
            session,
            ctx,
            opportunity,
            "macd",
            actor=actor,
            reason=f"{order.kind} site {site_id}",
            inputs={
                "site_id": site_id,
                "kind": order.kind,
                "changes": {k: v for k, v in changes.items() if v is not None},
            },
        )
        ref = opportunity.ref
    sheet = render_order_sheet(ctx, ref, out_dir)
    return MacdResult(ref, order, sheet)
