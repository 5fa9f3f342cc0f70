"""Read-only views of bids for the CLI and the other doors: status, list, history, explain.

Nothing here changes a bid and nothing imports Prefect, so these commands start fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import (
    account_of,
    current_approvals,
    get_opportunity,
    held_message,
    latest_decision,
    team,
)
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.bid.measures.intake_tasks import exception_count
from orchestrator.bid.trail.recording import CRASH_TRIGGER, acted_by, routing_for
from orchestrator.bid.trail.versions import (
    VERSION_RECORDED,
    latest_version,
    submitted_version,
    version_json,
)
from orchestrator.context import Context
from orchestrator.core.effects import EffectStatus
from orchestrator.errors import InputError
from orchestrator.lifecycle.machine import check
from orchestrator.lifecycle.table import ENDS, WAITING_FOR, State, automatic_transition
from orchestrator.store import effects
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Account,
    AuditEvent,
    BidVersion,
    ChangeOrder,
    ChangeOrderStatus,
    DecisionRecord,
    Document,
    Effect,
    Milestone,
    MilestoneStatus,
    Opportunity,
    OutboxMessage,
    Person,
    Site,
    format_ref,
)
from orchestrator.text import did_you_mean

if TYPE_CHECKING:
    from orchestrator.commercial.quotes import QuoteStatusReport


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class BidStatus:
    ref: str
    title: str
    account: str
    tier: str
    state: str
    step_owner: str
    next_actions: list[str]
    blocked_by: list[str]
    submission_deadline: str
    sites: int
    approvals: dict[str, str] = field(default_factory=dict)
    next_milestones: list[dict[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    last_event: str | None = None
    exit_criteria: list[dict[str, Any]] = field(default_factory=list)
    """In bid production: every exit criterion of the bid's tier, held or open."""
    pending_effects: list[dict[str, Any]] = field(default_factory=list)
    """Effects of committed moves not yet run (render, carry), or running."""
    failed_effects: list[dict[str, Any]] = field(default_factory=list)
    """Effects that failed, with their error and when they are tried again (the move stands)."""
    version: dict[str, Any] | None = None
    """The bid's latest version (number, why, when, submitted or not); None before the first."""
    submitted_version: dict[str, Any] | None = None
    """The version the customer holds (the last one submitted)."""
    exceptions: dict[str, Any] = field(default_factory=dict)
    """Intake exceptions: `open` (kind, owner role, text of each open one, the first
    `EXCEPTIONS_SHOWN`), `open_count`, `resolved` and `total`."""

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


EXCEPTIONS_SHOWN = 20
"""Open intake exceptions `bid status` lists; the rest are counted."""


def _step_owner(session: Session, ctx: Context, opportunity: Opportunity, tier: str) -> str:
    if opportunity.state in ENDS:
        return "-"
    lead_role = str(routing_for(ctx, tier, opportunity.state).get("lead_role", ""))
    members = [p for role, p in team(session, opportunity.id or 0) if role == lead_role]
    who = ", ".join(f"{p.name} <{p.email}>" for p in members) or "nobody assigned"
    return f"{lead_role}: {who}"


def status(ctx: Context, ref: str) -> BidStatus:
    """Where the bid is, who owns the step, what comes next and what blocks it."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        account = account_of(session, opportunity)
        state = opportunity.state
        next_actions: list[str] = []
        blocked: list[str] = []
        exit_criteria: list[dict[str, Any]] = []
        if state in ENDS:
            next_actions.append(f"none: the bid is closed ({state.value})")
        elif opportunity.held_at is not None:  # on hold: nothing moves until it resumes
            blocked.append(held_message(opportunity))
            next_actions.append(f"bid resume {opportunity.ref}")
        else:
            transition = automatic_transition(state)
            if state in WAITING_FOR:
                next_actions.append(f"waiting for {WAITING_FOR[state]}")
            if state == State.BID_PRODUCTION:
                production = exit_check(session, ctx, opportunity)
                exit_criteria = [c.to_json() for c in production.criteria]
            if transition is not None:
                facts = load_facts(
                    session,
                    ctx,
                    opportunity,
                    production_open=tuple(c["text"] for c in exit_criteria if not c["holds"]),
                )
                refusals = check(opportunity, transition.trigger, facts)
                blocked.extend(f"{guard}: {reason}" for guard, reason in refusals)
                if not refusals or state == State.BID_PRODUCTION:
                    next_actions.append(f"bid advance {opportunity.ref} ({transition.trigger})")
            crash = _last_crash(session, opportunity)
            if crash:
                blocked.append(crash)
        approvals = {a.area.value: a.status.value for a in current_approvals(session, opportunity)}
        milestones = session.exec(
            select(Milestone)
            .where(
                Milestone.opportunity_id == opportunity.id, Milestone.status == MilestoneStatus.OPEN
            )
            .order_by(col(Milestone.due_at))
            .limit(3)
        ).all()
        sites = len(
            session.exec(select(Site.id).where(Site.opportunity_id == opportunity.id)).all()
        )
        last = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id)
            .order_by(col(AuditEvent.id).desc())
        ).first()
        documents = session.exec(
            select(Document.path)
            .where(Document.opportunity_id == opportunity.id)
            .order_by(col(Document.id))
        ).all()
        open_effects = [_effect_row(e) for e in effects.open_effects(session, opportunity.id or 0)]
        waiting = exception_count(session, opportunity)
        return BidStatus(
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            tier=account.tier,
            state=state.value,
            step_owner=_step_owner(session, ctx, opportunity, account.tier),
            next_actions=next_actions,
            blocked_by=blocked,
            submission_deadline=opportunity.submission_deadline.isoformat(),
            sites=sites,
            approvals=approvals,
            next_milestones=[
                {"name": m.name, "due_at": m.due_at.isoformat(), "owner_role": m.owner_role}
                for m in milestones
            ],
            documents=sorted(set(documents)),
            last_event=(f"{last.at.isoformat()} {last.trigger} by {last.actor}" if last else None),
            exit_criteria=exit_criteria,
            pending_effects=[e for e in open_effects if e["status"] != EffectStatus.FAILED],
            failed_effects=[e for e in open_effects if e["status"] == EffectStatus.FAILED],
            version=version_json(latest_version(session, opportunity)),
            submitted_version=version_json(submitted_version(session, opportunity)),
            exceptions={
                "open": [
                    {"kind": t.kind, "owner_role": t.owner_role, "text": t.text}
                    for t in waiting.open[:EXCEPTIONS_SHOWN]
                ],
                "open_count": len(waiting.open),
                "resolved": waiting.resolved,
                "total": waiting.total,
            },
        )


def _effect_row(effect: Effect) -> dict[str, Any]:
    return {
        "kind": effect.kind.value,
        "key": effect.key,
        "status": effect.status.value,
        "attempts": effect.attempts,
        "error": effect.last_error,
        "next_attempt_at": effect.next_attempt_at.isoformat() if effect.next_attempt_at else None,
        "created_at": effect.created_at.isoformat(),
    }


def _last_crash(session: Session, opportunity: Opportunity) -> str | None:
    """A flow run that crashed on this bid leaves a `flow_crashed` event; say so in status."""
    event = session.exec(
        select(AuditEvent)
        .where(AuditEvent.opportunity_id == opportunity.id)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    if event is not None and event.trigger == CRASH_TRIGGER:
        return (
            f"the last automated run crashed at {event.at.isoformat()} ({event.reason}); "
            f"the bid is consistent in {opportunity.state}: run bid advance {opportunity.ref} again"
        )
    return None


def list_bids(ctx: Context, state: str | None = None) -> list[dict[str, Any]]:
    if state is not None and state not in {s.value for s in State}:
        raise InputError(
            f"unknown state '{state}'; one of: {', '.join(s.value for s in State)}"
            f"{did_you_mean(state, [s.value for s in State])}",
            field="state",
        )
    with reading(ctx.engine) as session:
        statement = (
            select(Opportunity, Account)
            .where(Opportunity.account_id == Account.id)
            .order_by(col(Opportunity.id))
        )
        if state:
            statement = statement.where(Opportunity.state == state)
        return [
            {
                "id": o.ref,
                "title": o.title,
                "account": a.name,
                "tier": a.tier,
                "state": o.state,
                "submission_deadline": o.submission_deadline.isoformat(),
                "revenue_eur": o.total_revenue,
            }
            for o, a in session.exec(statement).all()
        ]


def history(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """The audit trail and the decision records, in the order they happened."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id)
            .order_by(col(AuditEvent.id))
        ).all()
        rows: list[dict[str, Any]] = [
            {
                "kind": "event",
                "at": e.at,
                "actor": (
                    f"{e.actor} (recorded by {e.inputs['recorded_by']})"
                    if e.inputs.get("recorded_by")
                    else acted_by(e.actor, e.inputs)
                ),
                "trigger": e.trigger,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "reason": e.reason,
                "inputs": e.inputs,
            }
            for e in events
        ]
        for record, person in _decisions(session, opportunity):
            rows.append(
                {
                    "kind": "decision",
                    "at": record.evaluated_at,
                    "actor": person.email if person else "rules",
                    "trigger": f"rules:{record.table_name}",
                    "from_state": None,
                    "to_state": None,
                    "reason": record.reason,
                    "inputs": {
                        "rule_file": record.rule_file,
                        "rule_version": record.rule_hash[:12],
                        "outputs": record.outputs,
                        "matched_rows": record.matched_rows,
                        "human_outcome": record.human_outcome,
                    },
                }
            )
        rows.sort(key=lambda row: (_aware(row["at"]), row["kind"] == "event"))
        _name_versions(rows)
        return [_jsonable(row) for row in rows]


def _name_versions(rows: list[dict[str, Any]]) -> None:
    """Each row gets `version`: the bid version current when it happened (None before the
    first); a `version_recorded` event starts its version."""
    current: int | None = None
    for row in rows:
        if row["kind"] == "event" and row["trigger"] == VERSION_RECORDED:
            current = int(row["inputs"]["version"])
        row["version"] = current


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decisions(
    session: Session, opportunity: Opportunity
) -> list[tuple[DecisionRecord, Person | None]]:
    records = session.exec(
        select(DecisionRecord)
        .where(DecisionRecord.opportunity_id == opportunity.id)
        .order_by(col(DecisionRecord.id))
    ).all()
    return [(r, session.get(Person, r.decided_by_id) if r.decided_by_id else None) for r in records]


def explain(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """Why each gate went the way it did: every decision record with its inputs and rows."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return [
            _jsonable(
                {
                    "gate": record.table_name,
                    "at": record.evaluated_at,
                    "rule_file": record.rule_file,
                    "rule_version": record.rule_hash[:12],
                    "inputs": record.inputs,
                    "outputs": record.outputs,
                    "matched_rows": record.matched_rows,
                    "decided_by": person.email if person else None,
                    "human_outcome": record.human_outcome,
                    "overridden": bool(
                        record.human_outcome
                        and record.human_outcome != record.outputs.get("recommendation")
                    ),
                    "reason": record.reason,
                }
            )
            for record, person in _decisions(session, opportunity)
        ]


def outbox_messages(ctx: Context) -> list[dict[str, Any]]:
    """Every notification, oldest first, with its delivery state."""
    with reading(ctx.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [
            {
                "id": m.id,
                "opportunity": format_ref(m.opportunity_id) if m.opportunity_id else None,
                "event": m.event,
                "recipient": m.recipient_email or m.channel,
                "text": m.text,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "attempts": m.attempts,
                "last_error": m.last_error,
            }
            for m in rows
        ]


def quote_report(ctx: Context, ref: str) -> QuoteStatusReport:
    """Per site: firm, budgetary, missing or expired; and the bid margin."""
    from orchestrator.commercial.quotes import catalogue_for, quote_status

    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return quote_status(
            session, opportunity, catalogue_for(ctx.settings.rules_dir), ctx.clock().date()
        )


def approval_view(ctx: Context, ref: str) -> dict[str, Any]:
    """What the approvers of the bid see (`bid approval show`): the summary of the deal as it
    stands, judged by the governance table, with the approvals of the current round."""
    from orchestrator.bid.measures.deal import governance_decision_for
    from orchestrator.bid.measures.summary import build_summary

    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        deal = load_deal(session, ctx, opportunity)
        decision = governance_decision_for(ctx, deal)
        summary = build_summary(session, ctx, opportunity, deal, decision.outputs)
        people = {p.id: p.email for p in session.exec(select(Person)).all()}
        numbers = {
            v.id: v.number
            for v in session.exec(
                select(BidVersion).where(BidVersion.opportunity_id == opportunity.id)
            ).all()
        }
        summary["state"] = opportunity.state.value
        summary["approvals"] = [
            {
                "area": a.area,
                "status": a.status,
                "by": people.get(a.approver_id) if a.approver_id else None,
                "version": a.proposal_hash,
                "bid_version": numbers.get(a.version_id) if a.version_id else None,
                "reason": a.reason,
                "requested_at": a.requested_at.isoformat(),
                "decided_at": a.decided_at.isoformat() if a.decided_at else None,
            }
            for a in current_approvals(session, opportunity)
        ]
        summary["held_changes"] = [  # MACDs waiting for finance: the change each is
            {"change_order": order.id, **order.changes["delta"]}
            for order in session.exec(
                select(ChangeOrder)
                .where(
                    ChangeOrder.opportunity_id == opportunity.id,
                    ChangeOrder.status == ChangeOrderStatus.AWAITING_APPROVAL,
                )
                .order_by(col(ChangeOrder.id))
            ).all()
            if order.changes.get("delta")
        ]
        record = latest_decision(session, opportunity.id or 0, "governance")
        summary["requested_with"] = (
            {"at": record.evaluated_at.isoformat(), "inputs": record.inputs}
            if record is not None
            else None
        )
        return _jsonable(summary)  # type: ignore[no-any-return]
