"""The governance gate: which approvals the priced deal needs, asking for them (every
request carries the approval summary), recording them, and a rejection sending the bid back
to production for rework."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from orchestrator.bid.deal import Deal, governance_decision_for, load_deal
from orchestrator.bid.facts import (
    StepResult,
    current_approvals,
    get_opportunity,
    get_person,
    holds_role,
    latest_decision,
)
from orchestrator.bid.recording import (
    audit,
    audit_refusal,
    carry_on,
    complete_milestones,
    move_bid,
    plan_milestones,
    recipients,
    record_decision,
)
from orchestrator.bid.summary import build_summary
from orchestrator.context import Context
from orchestrator.errors import (
    ApprovalError,
    InputError,
)
from orchestrator.lifecycle.table import State
from orchestrator.ports import Decision
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    Opportunity,
)


def governance_decision(
    ctx: Context, session: Session, opportunity: Opportunity, deal: Deal | None = None
) -> Decision:
    """rules/governance.json on the bid's priced deal (value, margin, discount, terms...)."""
    return governance_decision_for(ctx, deal or load_deal(session, ctx, opportunity))


APPROVAL_INVALIDATED = "approval_invalidated"
APPROVAL_STATES = (State.GOVERNANCE_REVIEW, State.CONTRACT_PREPARATION, State.CONTRACTED)
"""Where approvals are given: the governance review; after the win, the approval of a price
change before signing; on a contracted bid, a MACD held for finance."""
MIN_VERSION_PREFIX = 8
"""`bid approve --version` takes the proposal hash or a prefix of at least this many digits."""


def request_approval(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    area: str,
    roles: list[str],
    *,
    summary: dict[str, Any],
    why: str | None = None,
) -> Approval:
    """Ask for one approval of the current round and tell its approvers, with the summary.

    Every request is a new row, so every request (a re-request too) reaches the approvers.
    """
    approval = Approval(
        opportunity_id=opportunity.id or 0,
        area=area,
        round=opportunity.governance_round,
        status=ApprovalStatus.REQUESTED,
        proposal_hash=opportunity.proposal_hash,
        requested_at=ctx.clock(),
        reason=why,
    )
    session.add(approval)
    session.flush()
    text = ctx.messages.render(
        "approval_requested",
        ref=opportunity.ref,
        title=opportunity.title,
        account=summary.get("account", ""),
        area=area,
        proposal_hash=opportunity.proposal_hash or "",
        headline=summary.get("headline", ""),
        why=why or "",
    )
    for person in recipients(session, opportunity, roles):
        outbox.enqueue(
            session,
            key=f"approval:{approval.id}:{person.email}",
            event="approval_requested",
            text=text,
            opportunity_id=opportunity.id,
            recipient_email=person.email,
            blocks=[
                {
                    "type": "approval",
                    "opportunity": opportunity.ref,
                    "area": area,
                    "proposal_hash": opportunity.proposal_hash,
                    "summary": summary,
                }
            ],
        )
    return approval


def approver_roles(session: Session, opportunity: Opportunity, area: str) -> list[str]:
    """Who may decide `area` by the bid's last governance decision (else the area's role)."""
    record = latest_decision(session, opportunity.id or 0, "governance")
    roles = (record.outputs if record else {}).get("approver_roles", {}).get(area)
    return list(roles or [area])


def invalidate_approvals(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    *,
    areas: tuple[str, ...],
    actor: str,
    reason: str,
    inputs: dict[str, Any],
    summary: dict[str, Any],
) -> list[int]:
    """Granted approvals of these areas stop counting; a new one of each is requested and
    its approvers are told why. Returns the ids invalidated (none: nothing happens)."""
    granted = session.exec(
        select(Approval).where(
            Approval.opportunity_id == opportunity.id,
            Approval.round == opportunity.governance_round,
            col(Approval.area).in_(areas),
            Approval.status == ApprovalStatus.GRANTED,
        )
    ).all()
    if not granted:
        return []
    now = ctx.clock()
    ids: list[int] = []
    for approval in granted:
        approval.status = ApprovalStatus.INVALIDATED
        approval.reason = reason
        approval.decided_at = now
        session.add(approval)
        ids.append(approval.id or 0)
    for area in sorted({a.area for a in granted}):
        request_approval(
            session,
            ctx,
            opportunity,
            area,
            approver_roles(session, opportunity, area),
            summary=summary,
            why=reason,
        )
    audit(
        session,
        ctx,
        opportunity,
        APPROVAL_INVALIDATED,
        actor=actor,
        reason=reason,
        inputs={"invalidated_approval_ids": ids, **inputs},
    )
    return ids


def offer_delta(opportunity: Opportunity, deal: Deal) -> str | None:
    """A best-and-final offer is judged against the offer the customer holds: the delta."""
    held = opportunity.offered
    if not held:
        return None

    def pct(value: object) -> str:
        return f"{value:.2f}%" if isinstance(value, int | float) else "none"

    before, after = float(held.get("contract_value_eur") or 0), deal.priced.contract_value_eur
    change = f" ({(after - before) / before * 100:+.1f}%)" if before else ""
    return (
        f"best and final offer, round {opportunity.offer_round}: contract value "
        f"{before:,.2f} → {after:,.2f} EUR{change}, margin {pct(held.get('margin_pct'))} → "
        f"{pct(deal.margin.margin_pct)}"
    )


def request_governance(
    session: Session, ctx: Context, opportunity: Opportunity, actor: str
) -> list[str]:
    """On entering governance review: judge the priced deal, ask for the approvals it needs
    (each approver gets the summary), plan the sign-off milestones."""
    deal = load_deal(session, ctx, opportunity)
    decision = governance_decision_for(ctx, deal)
    record_decision(session, opportunity, decision)
    required: list[str] = list(decision.outputs["required"])
    roles: dict[str, list[str]] = dict(decision.outputs["approver_roles"])
    opportunity.governance_round += 1
    session.add(opportunity)
    summary = build_summary(session, ctx, opportunity, deal, decision.outputs)
    why = offer_delta(opportunity, deal)
    for area in required:
        request_approval(
            session, ctx, opportunity, area, roles.get(area, [area]), summary=summary, why=why
        )
    areas = tuple((area, (roles.get(area) or [area])[0]) for area in required)
    plan_milestones(session, ctx, opportunity, "governance_request", ctx.clock(), areas)
    return required


def note_rejection(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    *,
    area: str,
    by: str,
    reason: str | None,
) -> None:
    """A rejection is rework: the bid as it was rejected cannot go to governance again
    (bid production's `reworked` criterion: "nothing changed since the rejection by ...")."""
    opportunity.rejected_fingerprint = load_deal(session, ctx, opportunity).fingerprint
    opportunity.rejection_note = f"of the {area} approval by {by} ({reason})"
    session.add(opportunity)


def approve(
    ctx: Context,
    ref: str,
    *,
    area: str,
    by: str,
    reject: bool = False,
    reason: str | None = None,
    proposal_hash: str | None = None,
) -> StepResult:
    """Grant or reject one governance area; the same checks for the CLI and for Slack.

    The decision binds to the proposal version: a stale `proposal_hash` is refused. A second
    answer for the same area and version records nothing (double clicks, Slack retries).
    """
    if reject and not (reason and reason.strip()):
        raise InputError("a rejection needs a reason (--reason)", field="reason")
    try:
        with transaction(ctx.engine) as session:
            opportunity = get_opportunity(session, ref, lock=True)
            if opportunity.state not in APPROVAL_STATES:
                raise ApprovalError(
                    f"{opportunity.ref} is in {opportunity.state}, not in governance review"
                )
            current = opportunity.proposal_hash or ""
            pinned = (proposal_hash or "").strip().lower()
            if pinned and not (len(pinned) >= MIN_VERSION_PREFIX and current.startswith(pinned)):
                raise ApprovalError(
                    f"this approval is for an outdated proposal version {pinned[:12]}; "
                    f"the current version is {(opportunity.proposal_hash or '')[:12]}"
                )
            person = get_person(session, by)
            approvals = [a for a in current_approvals(session, opportunity) if a.area == area]
            if not approvals:
                raise ApprovalError(f"no {area} approval is requested for {opportunity.ref}")
            if opportunity.id is None:  # rows read from the database always have one
                raise ValueError("the opportunity is not stored")
            record = latest_decision(session, opportunity.id, "governance")
            roles = list((record.outputs if record else {}).get("approver_roles", {}).get(area, []))
            if not holds_role(session, opportunity, person, roles):
                raise ApprovalError(
                    f"{person.email} may not decide the {area} approval on {opportunity.ref}; "
                    f"it needs one of: {', '.join(roles)}"
                )
            pending = [a for a in approvals if a.status == ApprovalStatus.REQUESTED]
            state = opportunity.state
            if not pending:
                done = approvals[-1]
                return StepResult(
                    opportunity.ref,
                    state,
                    state,
                    f"{area} already {done.status}; nothing recorded",
                    recorded=False,
                )
            target = pending[-1]
            now = ctx.clock()
            claimed = session.execute(
                update(Approval)
                .where(
                    col(Approval.id) == target.id, col(Approval.status) == ApprovalStatus.REQUESTED
                )
                .values(
                    status=ApprovalStatus.REJECTED if reject else ApprovalStatus.GRANTED,
                    approver_id=person.id,
                    reason=reason,
                    decided_at=now,
                    proposal_hash=opportunity.proposal_hash,
                )
                .execution_options(synchronize_session=False)
            )
            session.expire_all()  # the UPDATE bypassed the identity map
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return StepResult(
                    opportunity.ref, state, state, f"{area} already decided", recorded=False
                )
            verdict = "rejected" if reject else "granted"
            audit(
                session,
                ctx,
                opportunity,
                f"approval_{verdict}",
                actor=person.email,
                reason=reason,
                inputs={"area": area, "proposal_hash": opportunity.proposal_hash},
            )
            complete_milestones(session, ctx, opportunity, [f"governance_signoff_{area}"])
            if opportunity.state == State.CONTRACTED:
                from orchestrator.bid.orders import settle_held_orders

                settle_held_orders(
                    session,
                    ctx,
                    opportunity,
                    target.id or 0,
                    granted=not reject,
                    actor=person.email,
                )
            if reject and opportunity.state == State.GOVERNANCE_REVIEW:
                for other in current_approvals(session, opportunity):
                    if other.status == ApprovalStatus.REQUESTED:
                        other.status = ApprovalStatus.INVALIDATED
                        session.add(other)
                move_bid(
                    session,
                    ctx,
                    opportunity,
                    "reject_governance",
                    actor=person.email,
                    reason=f"{area} rejected: {reason}",
                    inputs={"area": area},
                )
                note_rejection(session, ctx, opportunity, area=area, by=person.email, reason=reason)
            elif not reject and not any(
                a.status == ApprovalStatus.REQUESTED
                for a in current_approvals(session, opportunity)
            ):  # the last approval of the round: the bid goes on
                carry_on(session, ctx, opportunity, actor=person.email, cause=f"approval:{area}")
            return StepResult(
                opportunity.ref,
                state,
                opportunity.state,
                f"{area} {verdict} by {person.email} on proposal version {current[:12]}",
            )
    except ApprovalError as refusal:
        audit_refusal(ctx, ref, "approve", by, str(refusal))
        raise
