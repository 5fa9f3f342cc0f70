"""MACDs held for finance, settled when finance decides their approval.

Apart from `bid.orders` (which plans MACDs through `bid.changes` and so sits above
governance): governance calls this when finance answers on a contracted bid, and nothing
here imports governance or changes.
"""

from __future__ import annotations

from sqlmodel import Session, select

from orchestrator.bid.trail.recording import audit
from orchestrator.bid.trail.versions import record_version
from orchestrator.commercial.orders import apply_site_fields
from orchestrator.context import Context
from orchestrator.store.models import ChangeOrder, ChangeOrderStatus, Opportunity


def settle_held_orders(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    approval_id: int,
    *,
    granted: bool,
    actor: str,
) -> list[int]:
    """Finance decided the approval MACDs were held for: apply them, or drop them."""
    held = session.exec(
        select(ChangeOrder).where(
            ChangeOrder.opportunity_id == opportunity.id,
            ChangeOrder.approval_id == approval_id,
            ChangeOrder.status == ChangeOrderStatus.AWAITING_APPROVAL,
        )
    ).all()
    settled: list[int] = []
    for order in held:
        if granted:
            apply_site_fields(session, opportunity, order.site_id, dict(order.changes["after"]))
            order.status = ChangeOrderStatus.APPLIED
        else:
            order.status = ChangeOrderStatus.REJECTED
        session.add(order)
        settled.append(order.id or 0)
        audit(
            session,
            ctx,
            opportunity,
            "macd_applied" if granted else "macd_rejected",
            actor=actor,
            reason=f"{order.kind} site {order.site_id}",
            inputs={"change_order": order.id, "approval": approval_id},
        )
    if granted and settled:
        record_version(session, ctx, opportunity, reason="macd", actor=actor)
    return settled
