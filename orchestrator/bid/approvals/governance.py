"""The governance gate: which approvals the priced deal needs, asking for them (every
request carries the approval summary), recording them, and a rejection sending the bid back
to production for rework."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from orchestrator.bid.approvals.held_orders import settle_held_orders
from orchestrator.bid.approvals.offer_round import offer_round_approvals
from orchestrator.bid.facts import (
    StepResult,
    approval_request,
    current_approvals,
    decider_for,
    duty_facts,
    get_opportunity,
    get_person,
)
from orchestrator.bid.measures.deal import Deal, governance_decision_for, load_deal
from orchestrator.bid.measures.summary import build_summary
from orchestrator.bid.team.people import record_duties_override
from orchestrator.bid.trail.recording import (
    audit,
    audit_refusal,
    carry_on,
    complete_milestones,
    move_bid,
    plan_milestones,
    recipients,
    record_decision,
    system_acting,
)
from orchestrator.bid.trail.versions import record_version, snapshot_of, submitted_version
from orchestrator.context import Context
from orchestrator.decisions.authority import Verdict, may_decide, summary_fingerprint
from orchestrator.decisions.duties import load_duties
from orchestrator.errors import (
    ApprovalError,
    InputError,
)
from orchestrator.intake.limits import optional_free_text
from orchestrator.lifecycle.table import State
from orchestrator.ports import Decision
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    Area,
    Grant,
    Opportunity,
    OutboxMessage,
    Person,
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
    deal: Deal | None = None,
) -> Approval:
    """Ask for one approval of the current round and tell its approvers, with the summary.
    `deal`: the deal as the caller priced it in this transaction (priced here when None).

    Every request is a new row, so every request (a re-request too) reaches the approvers.
    The row keeps who may decide it (`roles`, as the governance table named them) and the
    fingerprint of the summary shown; the message's buttons carry the row's id and that
    fingerprint, so a click decides this request and no later one.
    """
    fingerprint = summary_fingerprint(summary)
    approval = Approval(
        opportunity_id=opportunity.id or 0,
        area=Area(area),
        round=opportunity.governance_round,
        status=ApprovalStatus.REQUESTED,
        deciding_roles=list(roles or [area]),
        summary_fingerprint=fingerprint,
        proposal_hash=opportunity.proposal_hash,
        requested_at=ctx.clock(),
        reason=why,
        version_id=record_version(
            session, ctx, opportunity, reason="approval", actor="rules", deal=deal
        ).id,
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
    for person in recipients(session, opportunity, approval.deciding_roles):
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
                    "request": approval.id,
                    "fingerprint": fingerprint,
                    "summary": summary,
                }
            ],
        )
    return approval


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
    """Granted approvals of these areas stop counting, and requests still open are replaced:
    a new request of each area is asked, with the changed deal's summary, and its approvers
    are told why (a button of the replaced request no longer decides anything). Returns the
    ids invalidated (none: nothing happens)."""
    granted = session.exec(
        select(Approval).where(
            Approval.opportunity_id == opportunity.id,
            Approval.round == opportunity.governance_round,
            col(Approval.area).in_(areas),
            col(Approval.status).in_([ApprovalStatus.GRANTED, ApprovalStatus.REQUESTED]),
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
    roles = {a.area: list(a.deciding_roles) for a in granted}
    for area in sorted(roles):
        request_approval(session, ctx, opportunity, area, roles[area], summary=summary, why=reason)
    system, on_change = system_acting(actor, "change")  # the approvers did nothing
    audit(
        session,
        ctx,
        opportunity,
        APPROVAL_INVALIDATED,
        actor=system,
        reason=reason,
        inputs={"invalidated_approval_ids": ids, **inputs, **on_change},
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
    (each approver gets the summary), plan the sign-off milestones. In a new offer round
    (a best-and-final offer) only the approvals what changed touches are asked again
    (`bid.offer_round`, the `offer_round` rows of rules/changes.yaml); the others are
    carried over from the offer the customer holds."""
    deal = load_deal(session, ctx, opportunity)
    decision = governance_decision_for(ctx, deal)
    record_decision(session, opportunity, decision)
    required: list[str] = list(decision.outputs["required"])
    roles: dict[str, list[str]] = dict(decision.outputs["approver_roles"])  # this evaluation's
    carried = _carried_over(session, ctx, opportunity, deal, decision.outputs, required)
    opportunity.governance_round += 1
    session.add(opportunity)
    summary = build_summary(session, ctx, opportunity, deal, decision.outputs)
    why = offer_delta(opportunity, deal)
    asked = [area for area in required if area not in carried]
    for area in asked:
        request_approval(
            session,
            ctx,
            opportunity,
            area,
            roles.get(area, [area]),
            summary=summary,
            why=why,
            deal=deal,  # priced once for every request of the round
        )
    for earlier in carried.values():
        _carry_over(session, ctx, opportunity, earlier, summary, deal)
    areas = tuple((area, (roles.get(area) or [area])[0]) for area in asked)
    plan_milestones(session, ctx, opportunity, "governance_request", ctx.clock(), areas)
    return asked


def _carried_over(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    deal: Deal,
    outputs: dict[str, Any],
    required: list[str],
) -> dict[str, Approval]:
    """In a new offer round: the granted approvals of the areas nothing touched since the
    offer the customer holds (by area, the latest one given); none in a first round."""
    held = submitted_version(session, opportunity)
    if opportunity.offer_round <= 1 or held is None:
        return {}
    floor = outputs.get("margin_floor_pct")
    round_ = offer_round_approvals(
        ctx,
        held.snapshot,
        snapshot_of(session, opportunity, deal),
        margin_pct=deal.margin.margin_pct,
        floor_pct=float(floor) if floor is not None else None,
    )
    carried: dict[str, Approval] = {}
    for area in required:
        if area in round_.asked:
            continue
        earlier = session.exec(
            select(Approval)
            .where(
                Approval.opportunity_id == opportunity.id,
                Approval.area == Area(area),
                Approval.status == ApprovalStatus.GRANTED,
            )
            .order_by(col(Approval.id).desc())
        ).first()
        if earlier is not None:
            carried[area] = earlier
    audit(
        session,
        ctx,
        opportunity,
        "offer_round_approvals",
        actor="rules",
        reason=(
            f"offer round {opportunity.offer_round}: changed "
            f"{', '.join(sorted(round_.changed)) or 'nothing'}; asked again "
            f"{', '.join(a for a in required if a not in carried) or 'none'}; carried over "
            f"{', '.join(sorted(carried)) or 'none'}"
        ),
        inputs={**round_.to_json(), "carried_over": sorted(carried)},
    )
    return carried


def _carry_over(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    earlier: Approval,
    summary: dict[str, Any],
    deal: Deal | None = None,
) -> Approval:
    """The approval `earlier` stands for the new round (nothing in its area changed): a
    granted row of this round naming who gave it, on the new proposal; the system records
    it, on that person's approval."""
    approver = session.get(Person, earlier.approver_id) if earlier.approver_id else None
    reason = (
        f"carried over from round {earlier.round} (approval #{earlier.id}): nothing in "
        f"{earlier.area.value} changed since the offer the customer holds"
    )
    approval = Approval(
        opportunity_id=opportunity.id or 0,
        area=earlier.area,
        round=opportunity.governance_round,
        status=ApprovalStatus.GRANTED,
        deciding_roles=list(earlier.deciding_roles),
        summary_fingerprint=summary_fingerprint(summary),
        proposal_hash=opportunity.proposal_hash,
        approver_id=earlier.approver_id,
        reason=reason,
        requested_at=ctx.clock(),
        decided_at=ctx.clock(),
        version_id=record_version(
            session, ctx, opportunity, reason="approval", actor="rules", deal=deal
        ).id,
    )
    session.add(approval)
    session.flush()
    system, on_approval = system_acting(approver.email if approver else "rules", "approval")
    audit(
        session,
        ctx,
        opportunity,
        "approval_carried_over",
        actor=system,
        reason=reason,
        inputs={"area": earlier.area.value, "from_request": earlier.id, **on_approval},
    )
    complete_milestones(session, ctx, opportunity, [f"governance_signoff_{earlier.area.value}"])
    return approval


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


class RequestSuperseded(ApprovalError):
    """The approval request a button was shown for is no longer the one asked: a later
    request of the same area replaced it (the deal changed), or the button names none."""

    def __init__(self, message: str, *, ref: str, area: str, current: int | None) -> None:
        super().__init__(message)
        self.ref, self.area, self.current = ref, area, current


def check_area(area: str) -> Area:
    """The approval area named by a door; `InputError` for anything else."""
    try:
        return Area(area.strip().lower())
    except ValueError:
        raise InputError(
            f"'{area}' is not an approval area ({', '.join(a.value for a in Area)})",
            field="area",
        ) from None


def _clicked(
    approvals: list[Approval],
    target: Approval,
    *,
    ref: str,
    area: str,
    request_id: int | None,
    fingerprint: str | None,
) -> None:
    """A decision bound to a request (a Slack button) decides that request and no other."""
    if request_id is None:
        return
    clicked = next((a for a in approvals if a.id == request_id), None)
    if clicked is None or clicked.id != target.id:
        raise RequestSuperseded(
            f"this {area} approval request of {ref} was replaced by a later one "
            f"({target.reason or 'the deal changed'}); decide the current request",
            ref=ref,
            area=area,
            current=target.id if target.status == ApprovalStatus.REQUESTED else None,
        )
    if fingerprint is not None and clicked.summary_fingerprint not in (None, fingerprint):
        raise RequestSuperseded(
            f"the summary this {area} approval button showed is not the one requested for "
            f"{ref}; decide the current request",
            ref=ref,
            area=area,
            current=target.id if target.status == ApprovalStatus.REQUESTED else None,
        )


def _verdict(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    person: Person,
    target: Approval,
    override_by: Person | None,
) -> Verdict:
    """`may_decide` on the stored request; an override only from an admin."""
    if override_by is not None and Grant.ADMIN not in override_by.roles:
        raise ApprovalError(
            f"{override_by.email} is not an admin; only an admin overrides rules/duties.yaml"
        )
    verdict = may_decide(
        decider_for(session, opportunity, person),
        approval_request(target),
        ref=opportunity.ref,
        duties=load_duties(ctx.settings.rules_dir),
        facts=duty_facts(session, opportunity, target),
        override=override_by is not None,
    )
    if not verdict.ok:
        raise ApprovalError(verdict.reason)
    return verdict


def approve(
    ctx: Context,
    ref: str,
    *,
    area: str,
    by: str,
    reject: bool = False,
    reason: str | None = None,
    proposal_hash: str | None = None,
    request_id: int | None = None,
    fingerprint: str | None = None,
    override_duties: str | None = None,
    override_by: str | None = None,
) -> StepResult:
    """Grant or reject one governance area; the same checks for the CLI and for Slack.

    Who may decide is `may_decide` on the request as stored (its deciding roles, the
    person's grants and admin-assigned team roles, rules/duties.yaml). The decision binds to
    the proposal version: a stale `proposal_hash` is refused; a Slack button also names its
    request (`request_id`) and the summary it showed (`fingerprint`), and a click on a
    request a later one replaced is refused (`RequestSuperseded`). A second answer for the
    same area and version records nothing (double clicks, Slack retries).

    `override_duties` is an admin's reason to set the duties aside for this decision (the
    admin is `override_by`, else `by`); it is written to the admin trail.
    """
    if reject and not (reason and reason.strip()):
        raise InputError("a rejection needs a reason (--reason)", field="reason")
    if override_duties is not None and not override_duties.strip():
        raise InputError("an override of the duties needs a reason", field="override_duties")
    area = check_area(area).value
    reason = optional_free_text(reason, "reason", newlines=True)
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
            requested = [a for a in approvals if a.status == ApprovalStatus.REQUESTED]
            target = requested[-1] if requested else approvals[-1]
            _clicked(
                approvals,
                target,
                ref=opportunity.ref,
                area=area,
                request_id=request_id,
                fingerprint=fingerprint,
            )
            overrider = None
            if override_duties is not None:
                overrider = get_person(session, override_by) if override_by else person
            verdict = _verdict(session, ctx, opportunity, person, target, overrider)
            state = opportunity.state
            if target.status != ApprovalStatus.REQUESTED:
                return StepResult(
                    opportunity.ref,
                    state,
                    state,
                    f"{area} already {target.status}; nothing recorded",
                    recorded=False,
                )
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
            outcome = "rejected" if reject else "granted"
            if verdict.overridden and overrider is not None:
                record_duties_override(
                    session,
                    ctx,
                    actor=overrider.email,
                    subject=person.email,
                    details={
                        "opportunity": opportunity.ref,
                        "area": area,
                        "request": target.id,
                        "outcome": outcome,
                        "duties": list(verdict.overridden),
                        "reason": (override_duties or "").strip(),
                    },
                )
            audit(
                session,
                ctx,
                opportunity,
                f"approval_{outcome}",
                actor=person.email,
                reason=reason,
                inputs={
                    "area": area,
                    "proposal_hash": opportunity.proposal_hash,
                    "request": target.id,
                    "duties_overridden": list(verdict.overridden),
                },
            )
            complete_milestones(session, ctx, opportunity, [f"governance_signoff_{area}"])
            if opportunity.state == State.CONTRACTED:
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
                f"{area} {outcome} by {person.email} on proposal version {current[:12]}",
            )
    except ApprovalError as refusal:
        audit_refusal(ctx, ref, "approve", by, str(refusal))
        raise


def resend_request(ctx: Context, ref: str, area: str, email: str, *, instead_of: str) -> bool:
    """Send `email` the current request of `area` again (with its summary and buttons), after
    they clicked a button of a request it replaced (`instead_of` names that click, so the same
    old button sends it once). False when nothing of `area` is requested."""
    area = check_area(area).value
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        person = get_person(session, email)
        requested = [
            a
            for a in current_approvals(session, opportunity)
            if a.area == area and a.status == ApprovalStatus.REQUESTED
        ]
        if not requested:
            return False
        current = requested[-1]
        sent = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.opportunity_id == opportunity.id)
            .where(col(OutboxMessage.key).startswith(f"approval:{current.id}:"))
            .order_by(col(OutboxMessage.id))
        ).first()
        if sent is None:  # nobody was told of it: nothing to send again
            return False
        return outbox.enqueue(
            session,
            key=f"approval_resent:{current.id}:{person.email}:{instead_of}"[:250],
            event="approval_requested",
            text=sent.text,
            opportunity_id=opportunity.id,
            recipient_email=person.email,
            blocks=list(sent.blocks),
        )
