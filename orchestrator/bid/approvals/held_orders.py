"""MACDs applied in full: at once, or when finance grants the approval they were held for.

Apart from `bid.orders` (which plans MACDs through `bid.changes` and so sits above
governance): governance calls `settle_held_orders` when finance answers on a contracted
bid, `bid.orders` calls `complete_macd` for a MACD applied at once, and nothing here
imports governance or changes.

A MACD applied is applied completely, in the transaction that applies it: the site, its
cost (the carrier's new quote the MACD carried, superseding the quote for the old design),
the contract's value, the next bid version, and a `render` effect that renders the order
sheet and the Bid Control Plan again once committed — nobody runs `bid docs` for it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from orchestrator.bid.contracting.contracts import refresh_contract_value
from orchestrator.bid.trail.recording import audit, render_after_change, system_acting
from orchestrator.bid.trail.versions import record_version
from orchestrator.commercial.orders import apply_site_fields, quote_macd_cost
from orchestrator.context import Context
from orchestrator.store.models import (
    ChangeOrder,
    ChangeOrderStatus,
    Contract,
    Opportunity,
)


def complete_macd(
    session: Session, ctx: Context, opportunity: Opportunity, order: ChangeOrder
) -> dict[str, Any]:
    """Everything that follows a MACD's site change: its new quote, the contract's value.
    Returns what changed (for the audit event)."""
    done: dict[str, Any] = {}
    cost = order.changes.get("cost")
    if cost:
        contract = session.exec(
            select(Contract).where(Contract.opportunity_id == opportunity.id)
        ).first()
        until = contract.end_date if contract is not None else ctx.clock().date()
        quote_macd_cost(session, opportunity, order.site_id, dict(cost), until)
        done["new_quote"] = {k: cost.get(k) for k in ("provider", "monthly", "one_off", "currency")}
    value = refresh_contract_value(session, ctx, opportunity)
    if value is not None:
        done["contract_monthly"] = {"before": value[0], "after": value[1]}
    render_after_change(
        session, ctx, opportunity, cause=f"macd-{order.id}-{order.status.value}", actor="rules"
    )
    return done


def settle_held_orders(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    approval_id: int,
    *,
    granted: bool,
    actor: str,
) -> list[int]:
    """Finance decided the approval MACDs were held for: apply them in full, or drop them.
    The system applies them, on `actor`'s (finance's) answer: the trail says so."""
    held = session.exec(
        select(ChangeOrder).where(
            ChangeOrder.opportunity_id == opportunity.id,
            ChangeOrder.approval_id == approval_id,
            ChangeOrder.status == ChangeOrderStatus.AWAITING_APPROVAL,
        )
    ).all()
    settled: list[int] = []
    for order in held:
        done: dict[str, Any] = {}
        if granted:
            apply_site_fields(session, opportunity, order.site_id, dict(order.changes["after"]))
            order.status = ChangeOrderStatus.APPLIED
            session.add(order)
            done = complete_macd(session, ctx, opportunity, order)
        else:
            order.status = ChangeOrderStatus.REJECTED
            session.add(order)
        settled.append(order.id or 0)
        system, on_answer = system_acting(actor, "approval")
        audit(
            session,
            ctx,
            opportunity,
            "macd_applied" if granted else "macd_rejected",
            actor=system,
            reason=f"{order.kind} site {order.site_id}",
            inputs={"change_order": order.id, "approval": approval_id, **on_answer, **done},
        )
    if granted and settled:
        record_version(session, ctx, opportunity, reason="macd", actor="rules")
    return settled
