"""Every change to a bid's quotes, prices, sites, terms or dates goes through
`rules/changes.yaml`.

The table says, per kind of change and phase of the bid, what the change does: kept in the
audit trail, told to the approvers it touches, their approvals asked again, the bid sent
back to production, held for an approval (a MACD), or refused. Areas the change does not
touch keep their approvals. The services that change a bid (quote import, site import and
edits, terms, prices, dates, MACDs) call `apply_change` inside their own transaction, after
the change is written, so a refusal rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from orchestrator.bid.approvals.governance import (
    invalidate_approvals,
    request_approval,
)
from orchestrator.bid.facts import account_of, current_approvals, deciding_roles
from orchestrator.bid.measures.deal import Deal, governance_decision_for, load_deal
from orchestrator.bid.measures.summary import build_summary
from orchestrator.bid.producing.production import thaw_design
from orchestrator.bid.trail.recording import (
    move_bid,
    recipients,
    record_decision,
    render_after_change,
    system_acting,
)
from orchestrator.context import Context
from orchestrator.decisions.production_rules import ChangeRule, load_change_table
from orchestrator.errors import ChangeRefused
from orchestrator.lifecycle.table import State
from orchestrator.ports import Decision
from orchestrator.store import outbox
from orchestrator.store.models import ApprovalStatus, Opportunity

PHASES: dict[State, str] = {
    State.PRE_QUALIFICATION: "production",
    State.QUALIFICATION: "production",
    State.STRATEGY_REWORK: "production",
    State.KICK_OFF: "production",
    State.BID_PRODUCTION: "production",
    State.GOVERNANCE_REVIEW: "review",
    State.SUBMISSION: "submitted",
    State.CUSTOMER_DECISION: "submitted",
    State.CONTRACT_PREPARATION: "won",
    State.CONTRACTED: "contracted",
    State.NO_BID: "closed",
    State.LOST: "closed",
    State.WITHDRAWN: "closed",
}
"""The phase of rules/changes.yaml each state belongs to."""


@dataclass(frozen=True)
class Change:
    """One change to a bid, as the approvers hear about it."""

    kind: str  # quotes | prices | sites | site_details | terms | dates
    what: str  # "firm quotes from quotes.csv"
    key: str  # unique per change (a content hash): its messages are queued once
    lines_changed: int = 0
    margin_before: float | None = None
    margin_after: float | None = None
    delta: dict[str, Any] | None = None
    """What the change itself does in money (a MACD: before → after, monthly and one-off,
    the margin of the change): what its approval request shows, not the whole deal."""
    headline: str | None = None


@dataclass(frozen=True)
class ChangeOutcome:
    """What the table made of a change."""

    rule: str
    action: str
    phase: str
    floor: float | None = None
    invalidated: tuple[int, ...] = ()
    requested: tuple[str, ...] = ()
    notified: tuple[str, ...] = field(default=())
    thawed: bool = False
    sent_back: bool = False
    held_by: tuple[int, ...] = ()
    """The approvals a held change waits for (action `hold`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "phase": self.phase,
            "margin_floor_pct": self.floor,
            "invalidated_approvals": list(self.invalidated),
            "requested": list(self.requested),
            "notified": list(self.notified),
            "design_unfrozen": self.thawed,
            "sent_back_to_production": self.sent_back,
            "held_for_approvals": list(self.held_by),
        }


def phase_of(state: State) -> str:
    return PHASES[state]


def rule_for(ctx: Context, opportunity: Opportunity, kind: str) -> ChangeRule:
    """The table's row for this kind of change in the bid's phase (no condition)."""
    return load_change_table(ctx.settings.rules_dir).first(
        kind, phase_of(opportunity.state), frozenset()
    )


def check_allowed(ctx: Context, opportunity: Opportunity, kind: str) -> None:
    """Refuse before any work when the table refuses this kind of change outright here."""
    rule = rule_for(ctx, opportunity, kind)
    if rule.action == "refuse":
        raise ChangeRefused(f"{opportunity.ref} is in {opportunity.state.value}: {rule.reason}")


def _conditions(change: Change, floor: float | None) -> frozenset[str]:
    before, after = change.margin_before, change.margin_after
    found: set[str] = set()
    if after is not None:
        if before is not None and after < before:
            found.add("margin_down")
        if floor is not None and after < floor:
            found.add("below_floor")
        if after < 0:
            found.add("negative_margin")
    return frozenset(found)


def _pct(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}%"


def _tell(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    change: Change,
    rule: ChangeRule,
    floor: float | None,
    consequence: str,
    decision: Decision | None,
) -> tuple[str, ...]:
    """Queue the delta to the approvers of the areas the rule touches."""
    account = account_of(session, opportunity)
    roles: dict[str, list[str]] = dict(decision.outputs["approver_roles"]) if decision else {}
    told: list[str] = []
    for area in rule.approvals:
        text = ctx.messages.render(
            "deal_changed",
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            area=area,
            what=change.what,
            lines=change.lines_changed,
            margin_before=_pct(change.margin_before),
            margin_after=_pct(change.margin_after),
            floor=_pct(floor) if floor is not None else "",
            consequence=consequence,
        )
        asked = deciding_roles(session, opportunity, area) or roles.get(area) or [area]
        for person in recipients(session, opportunity, asked):
            queued = outbox.enqueue(
                session,
                key=f"change:{opportunity.id}:{change.key}:{area}:{person.email}",
                event="deal_changed",
                text=text,
                opportunity_id=opportunity.id,
                recipient_email=person.email,
            )
            if queued:
                told.append(person.email)
    return tuple(told)


def apply_change(
    session: Session, ctx: Context, opportunity: Opportunity, change: Change, *, actor: str
) -> ChangeOutcome:
    """Do what rules/changes.yaml says for this change (already written and flushed)."""
    phase = phase_of(opportunity.state)
    table = load_change_table(ctx.settings.rules_dir)
    floor: float | None = None
    deal: Deal | None = None
    decision: Decision | None = None
    if change.margin_after is not None and phase in ("review", "submitted", "won", "contracted"):
        deal = load_deal(session, ctx, opportunity)
        decision = governance_decision_for(ctx, deal)
        floor = float(decision.outputs["margin_floor_pct"])
    rule = table.first(change.kind, phase, _conditions(change, floor))
    if rule.action == "refuse":
        raise ChangeRefused(f"{opportunity.ref} is in {opportunity.state.value}: {rule.reason}")
    render_after_change(session, ctx, opportunity, cause=change.key, actor=actor)
    thawed = rule.thaws_design and thaw_design(
        session, ctx, opportunity, actor=actor, reason=change.what
    )
    outcome = ChangeOutcome(rule.id, rule.action, phase, floor, thawed=thawed)
    if rule.action == "notify":
        told = _tell(
            session,
            ctx,
            opportunity,
            change,
            rule,
            floor,
            "recorded after submission: your approval stands and no new one is needed",
            decision,
        )
        return ChangeOutcome(rule.id, rule.action, phase, floor, notified=told, thawed=thawed)
    if rule.action == "rework":
        for approval in current_approvals(session, opportunity):
            if approval.status == ApprovalStatus.REQUESTED:
                approval.status = ApprovalStatus.INVALIDATED
                session.add(approval)
        refusal = decision.outputs.get("refusal") if decision is not None else ""
        system, on_change = system_acting(actor, "change")
        move_bid(
            session,
            ctx,
            opportunity,
            "reject_governance",
            actor=system,
            reason=f"{change.what}: {refusal or 'governance refuses the deal'}",
            inputs={"change_rule": rule.id, "margin_after_pct": change.margin_after, **on_change},
        )
        told = _tell(
            session,
            ctx,
            opportunity,
            change,
            rule,
            floor,
            "governance refuses the deal as priced: the bid went back to bid production",
            decision,
        )
        return ChangeOutcome(
            rule.id, rule.action, phase, floor, notified=told, thawed=thawed, sent_back=True
        )
    if rule.action == "reapprove":
        return _reapprove(session, ctx, opportunity, change, rule, deal, decision, floor, actor)
    if rule.action == "hold":
        return _hold(session, ctx, opportunity, change, rule, phase)
    return outcome


def _hold(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    change: Change,
    rule: ChangeRule,
    phase: str,
) -> ChangeOutcome:
    """The change waits: its approvals are asked (the caller keeps it until they are given)."""
    deal = load_deal(session, ctx, opportunity)
    decision = governance_decision_for(ctx, deal)
    summary = build_summary(session, ctx, opportunity, deal, decision.outputs)
    if change.delta is not None:  # the approver decides the change, not the whole deal again
        summary = {**summary, "change": change.delta, "headline": change.headline or change.what}
    held: list[int] = []
    for area in rule.approvals:
        roles = list(decision.outputs["approver_roles"].get(area, [area]))
        approval = request_approval(
            session, ctx, opportunity, area, roles, summary=summary, why=change.what
        )
        held.append(approval.id or 0)
    return ChangeOutcome(
        rule.id, rule.action, phase, requested=tuple(rule.approvals), held_by=tuple(held)
    )


def _reapprove(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    change: Change,
    rule: ChangeRule,
    deal: Deal | None,
    decision: Decision | None,
    floor: float | None,
    actor: str,
) -> ChangeOutcome:
    """Replace the approvals the change touches (granted or still requested) with new
    requests showing the changed deal; ask for an area the changed deal now needs and the
    round did not have yet (management below the floor)."""
    deal = deal or load_deal(session, ctx, opportunity)
    decision = decision or governance_decision_for(ctx, deal)
    record_decision(session, opportunity, decision)
    summary = build_summary(session, ctx, opportunity, deal, decision.outputs)
    reason = f"{change.what}: margin {_pct(change.margin_before)} → {_pct(change.margin_after)}"
    if floor is not None:
        reason += f" (floor {_pct(floor)})"
    invalidated = invalidate_approvals(
        session,
        ctx,
        opportunity,
        areas=rule.approvals,
        actor=actor,
        reason=reason,
        inputs={
            "change_rule": rule.id,
            "margin_before_pct": change.margin_before,
            "margin_after_pct": change.margin_after,
            "margin_floor_pct": floor,
            "lines_changed": change.lines_changed,
        },
        summary=summary,
    )
    held = {a.area for a in current_approvals(session, opportunity)}
    needed = set(decision.outputs.get("required", []))
    requested: list[str] = []
    for area in rule.approvals:
        if area in held or area not in needed:
            continue
        roles = list(decision.outputs["approver_roles"].get(area, [area]))
        request_approval(session, ctx, opportunity, area, roles, summary=summary, why=reason)
        requested.append(area)
    return ChangeOutcome(
        rule.id,
        rule.action,
        phase_of(opportunity.state),
        floor,
        invalidated=tuple(invalidated),
        requested=tuple(requested),
    )
