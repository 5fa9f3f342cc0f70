"""MACDs on a contracted bid, as provisioning knows them.

A MACD (move, add, change, delete) is checked like a site at import, refused when it changes
nothing, and recorded by someone who holds a role on the account. What it does next comes
from `rules/changes.yaml` (phase `contracted`): a correction is applied at once; a change to
what the customer pays or what the line costs waits for the financial approval and is
applied when finance grants it (`bid approve OPP --area financial`), dropped when finance
rejects it. Order lines keep their ids: a deleted line leaves its gap, an added site gets
the next id. A MACD applied makes the next bid version (`bid.versions`) when it changed the
deal; the version the customer signed stays as it was. The order sheet is rendered again
after each MACD.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.approvals.held_orders import complete_macd
from orchestrator.bid.facts import account_of, get_opportunity, get_person
from orchestrator.bid.producing.changes import Change, ChangeOutcome, apply_change, rule_for
from orchestrator.bid.team.people import is_admin, is_system_actor
from orchestrator.bid.trail.recording import audit, refusals_kept
from orchestrator.bid.trail.rendering import render_order_sheet
from orchestrator.bid.trail.versions import record_version
from orchestrator.commercial.orders import (
    MacdPlan,
    check_macd_cost,
    delta_headline,
    macd_delta,
    plan_macd,
    record_change_order,
)
from orchestrator.commercial.quotes import catalogue_for, current_quotes
from orchestrator.context import Context
from orchestrator.errors import ChangeRefused, NotFound, NotPermitted
from orchestrator.ports import ProducedDocuments
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    ChangeOrder,
    ChangeOrderStatus,
    Opportunity,
    TeamMember,
)


@dataclass(frozen=True)
class MacdResult:
    ref: str
    order: ChangeOrder
    sheet: ProducedDocuments
    outcome: ChangeOutcome | None = None

    @property
    def held(self) -> bool:
        return self.order.status == ChangeOrderStatus.AWAITING_APPROVAL


def check_account_role(session: Session, opportunity: Opportunity, actor: str) -> None:
    """A MACD is recorded by someone on the team of one of the account's bids (or an admin):
    an organisation grant alone (finance, legal, management) does not make one an orderer."""
    if is_system_actor(actor):
        return
    try:
        person = get_person(session, actor)
    except NotFound:
        raise NotPermitted(f"{actor} is nobody known here; a MACD needs a person") from None
    if is_admin(person):
        return
    account = account_of(session, opportunity)
    member = session.exec(
        select(TeamMember.id)
        .join(Opportunity, col(Opportunity.id) == TeamMember.opportunity_id)
        .where(Opportunity.account_id == account.id, TeamMember.person_id == person.id)
    ).first()
    if member is None:
        raise NotPermitted(
            f"{person.email} holds no role on {account.name}'s bids; a MACD needs a role on "
            "the account's team (or an admin)"
        )


def _change_for(plan: MacdPlan, delta: dict[str, Any] | None = None) -> Change:
    digest = hashlib.sha256(
        json.dumps(
            [plan.site_id, plan.kind.value, plan.after], sort_keys=True, default=str
        ).encode()
    ).hexdigest()
    return Change(
        kind="sites" if plan.price_changing else "site_details",
        what=f"MACD: {plan.kind.value} of site {plan.site_id} ({', '.join(plan.changed)})",
        key=f"macd-{digest[:16]}",
        lines_changed=1,
        delta=delta,
        headline=delta_headline(delta) if delta is not None else None,
    )


def record_macd(
    ctx: Context,
    ref: str,
    *,
    site_id: str,
    kind: str,
    changes: dict[str, Any],
    actor: str,
    out_dir: Path | None = None,
    cost: dict[str, Any] | None = None,
) -> MacdResult:
    """Record a move, add, change or delete (applied, or held for the financial approval),
    then render the order sheet again. `cost` is the carrier's new cost for the site
    (`monthly`, `one_off`, `reference`): applied with the MACD as the site's new quote.
    Applied means applied in full (`held_orders.complete_macd`): the site, its quote, the
    contract's value, the next version, and the documents rendered again (an effect)."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    with refusals_kept(ctx, ref, "macd", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_account_role(session, opportunity, actor)
        plan = plan_macd(
            session, opportunity, site_id=site_id, kind=kind, changes=changes, catalogue=catalogue
        )
        current = current_quotes(session, opportunity.id or 0).get(site_id)
        new_cost = check_macd_cost(cost, plan, current, catalogue)
        delta = macd_delta(opportunity, plan, current, new_cost, catalogue)
        change = _change_for(plan, delta)
        rule = rule_for(ctx, opportunity, change.kind)
        if rule.action == "refuse":
            raise ChangeRefused(f"{opportunity.ref} is in {opportunity.state.value}: {rule.reason}")
        if rule.action == "hold":
            outcome = apply_change(session, ctx, opportunity, change, actor=actor)
            order = record_change_order(
                session,
                opportunity,
                plan,
                actor=actor,
                now=ctx.clock(),
                status=ChangeOrderStatus.AWAITING_APPROVAL,
                approval_id=outcome.held_by[0] if outcome.held_by else None,
            )
        else:
            order = record_change_order(session, opportunity, plan, actor=actor, now=ctx.clock())
            outcome = apply_change(session, ctx, opportunity, change, actor=actor)
        order.changes = {**order.changes, "delta": delta, "cost": new_cost}
        session.add(order)
        completed = (
            complete_macd(session, ctx, opportunity, order)
            if order.status == ChangeOrderStatus.APPLIED
            else {}
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
                "change_order": order.id,
                "changes": {k: v for k, v in changes.items() if v is not None},
                "status": order.status.value,
                "change_rule": outcome.rule,
                "delta": delta,
                **completed,
            },
        )
        if order.status == ChangeOrderStatus.APPLIED:
            record_version(session, ctx, opportunity, reason="macd", actor=actor)
        ref = opportunity.ref
    sheet = render_order_sheet(ctx, ref, out_dir)
    return MacdResult(ref, order, sheet, outcome)
