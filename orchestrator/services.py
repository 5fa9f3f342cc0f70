"""The one path for every change to a bid: advance, decide, approve, record_result, withdraw.

Each service call loads the bid, evaluates the decision tables that apply, fires the trigger
on the state machine, and commits the new state, its audit event, the decision record and the
notifications (outbox rows) in ONE database transaction. The CLI, Slack and Prefect flows are
doors into these functions; none of them writes a bid's state itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from orchestrator import outbox, planning
from orchestrator.context import Context
from orchestrator.db import transaction
from orchestrator.errors import (
    ApprovalError,
    BidError,
    DecisionRefused,
    InputError,
    NotFound,
    TransitionRefused,
)
from orchestrator.guards import BidFacts
from orchestrator.lifecycle import (
    ENDS,
    OPEN_STATES,
    WAITING_FOR,
    State,
    automatic_transition,
)
from orchestrator.machine import fire
from orchestrator.messages import render as render_message
from orchestrator.models import (
    Account,
    Approval,
    ApprovalStatus,
    AuditEvent,
    DecisionRecord,
    Document,
    Milestone,
    Opportunity,
    Person,
    Role,
    TeamMember,
    format_ref,
)
from orchestrator.ports import ProducedDocuments

ORGANISATION_ROLES = frozenset({Role.MANAGEMENT, Role.FINANCE, Role.LEGAL})
"""Roles a person holds on every bid by their position, without being on its team."""

GO_NO_GO_TRIGGERS = {
    "bid": "decide_bid",
    "no_bid": "decide_no_bid",
    "redefine_strategy": "redefine_strategy",
}

_REF = re.compile(r"^(?:OPP-?)?0*(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class StepResult:
    """What one service call did to a bid."""

    ref: str
    from_state: State
    to_state: State
    message: str
    waiting_for: str | None = None
    documents: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return self.from_state != self.to_state


# --- lookups ---------------------------------------------------------------------------------


def parse_ref(ref: str) -> int:
    match = _REF.match(ref.strip())
    if not match:
        raise NotFound(f"'{ref}' is not an opportunity id (expected OPP-0007 or 7)")
    return int(match.group(1))


def get_opportunity(session: Session, ref: str | int) -> Opportunity:
    """The opportunity for `OPP-0007`, `7` or 7; `NotFound` when there is none."""
    opportunity_id = ref if isinstance(ref, int) else parse_ref(ref)
    row = session.get(Opportunity, opportunity_id)
    if row is None:
        raise NotFound(f"no opportunity {format_ref(opportunity_id)}")
    return row


def get_person(session: Session, email: str) -> Person:
    person = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None:
        raise NotFound(f"no person with e-mail {email}")
    return person


def team(session: Session, opportunity_id: int) -> list[tuple[str, Person]]:
    """(role, person) pairs of the bid team."""
    rows = session.exec(
        select(TeamMember, Person)
        .where(TeamMember.opportunity_id == opportunity_id)
        .where(TeamMember.person_id == Person.id)
        .order_by(col(TeamMember.id))
    ).all()
    return [(member.role, person) for member, person in rows]


def holds_role(
    session: Session, opportunity: Opportunity, person: Person, roles: list[str]
) -> bool:
    """True when the person holds one of `roles` on this bid.

    Team roles (bid manager, consultant, operations...) count only for the bid's own team;
    management, finance and legal hold their role on every bid.
    """
    assert opportunity.id is not None
    on_team = {role for role, member in team(session, opportunity.id) if member.id == person.id}
    organisation = {role for role in person.roles if role in ORGANISATION_ROLES}
    return bool((on_team | organisation) & set(roles))


def account_of(session: Session, opportunity: Opportunity) -> Account:
    account = session.get(Account, opportunity.account_id)
    if account is None:
        raise NotFound(f"{opportunity.ref} has no account")
    return account


# --- facts for guards and rules ---------------------------------------------------------------


def _last_event(session: Session, opportunity_id: int, trigger: str) -> AuditEvent | None:
    return session.exec(
        select(AuditEvent)
        .where(AuditEvent.opportunity_id == opportunity_id, AuditEvent.trigger == trigger)
        .order_by(col(AuditEvent.id).desc())
    ).first()


def current_approvals(session: Session, opportunity: Opportunity) -> list[Approval]:
    """The approvals of the current governance round (requested after the last request)."""
    assert opportunity.id is not None
    started = _last_event(session, opportunity.id, "request_governance")
    if started is None:
        return []
    return list(
        session.exec(
            select(Approval)
            .where(Approval.opportunity_id == opportunity.id)
            .where(col(Approval.requested_at) >= started.at)
            .order_by(col(Approval.id))
        ).all()
    )


def load_facts(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    reason: str | None = None,
    order_sheet_problems: tuple[str, ...] = (),
) -> BidFacts:
    """Everything the guards may look at, read in one place."""
    assert opportunity.id is not None
    account = account_of(session, opportunity)
    redefined = _last_event(session, opportunity.id, "redefine_strategy")
    reworked = _last_event(session, opportunity.id, "strategy_set")
    approvals = [
        a for a in current_approvals(session, opportunity) if a.status != ApprovalStatus.INVALIDATED
    ]
    granted = frozenset(
        a.area
        for a in approvals
        if a.status == ApprovalStatus.GRANTED and a.proposal_hash == opportunity.proposal_hash
    )
    documents = {
        d.kind
        for d in session.exec(
            select(Document).where(Document.opportunity_id == opportunity.id)
        ).all()
    }
    milestones = session.exec(
        select(func.count())
        .select_from(Milestone)
        .where(Milestone.opportunity_id == opportunity.id)
    ).one()
    return BidFacts(
        tier=account.tier,
        bants=dict(opportunity.bants),
        submission_deadline=opportunity.submission_deadline,
        today=ctx.clock().date(),
        team_roles=frozenset(role for role, _ in team(session, opportunity.id)),
        reason=reason,
        strategy_reworked=bool(redefined and reworked and (reworked.id or 0) > (redefined.id or 0)),
        milestone_count=int(milestones),
        proposal_hash=opportunity.proposal_hash,
        required_areas=tuple(a.area for a in approvals),
        granted_areas=granted,
        submission_package_ready="submission_letter" in documents,
        order_sheet_ready="order_sheet" in documents,
        order_sheet_problems=order_sheet_problems,
    )


# --- the one path: move a bid, with audit event and notifications, in the caller's transaction -


def _move(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    trigger: str,
    *,
    actor: str,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
    order_sheet_problems: tuple[str, ...] = (),
) -> AuditEvent:
    """Fire `trigger`; on success add the audit event and queue the notifications."""
    facts = load_facts(session, ctx, opportunity, reason, order_sheet_problems)
    source, dest = fire(opportunity, trigger, facts)
    now = ctx.clock()
    opportunity.version += 1
    opportunity.updated_at = now
    event = AuditEvent(
        opportunity_id=opportunity.id or 0,
        at=now,
        actor=actor,
        from_state=source.value,
        to_state=dest.value,
        trigger=trigger,
        reason=reason,
        inputs=inputs or {},
        idempotency_key=f"{opportunity.id}:{trigger}:{opportunity.version}",
    )
    session.add(opportunity)
    session.add(event)
    session.flush()
    _notify_transition(session, ctx, opportunity, event)
    return event


def _audit(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    trigger: str,
    *,
    actor: str,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> AuditEvent:
    """An audit event that does not change the state (a decision, a refusal, a plan)."""
    event = AuditEvent(
        opportunity_id=opportunity.id or 0,
        at=ctx.clock(),
        actor=actor,
        from_state=opportunity.state,
        to_state=opportunity.state,
        trigger=trigger,
        reason=reason,
        inputs=inputs or {},
    )
    session.add(event)
    session.flush()
    return event


def _audit_refusal(ctx: Context, ref: str, trigger: str, actor: str, reason: str) -> None:
    """Refusals are kept in the audit trail, in their own transaction (the change rolled back)."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        _audit(session, ctx, opportunity, f"{trigger}_refused", actor=actor, reason=reason)


def _recipients(session: Session, opportunity: Opportunity, roles: list[str]) -> list[Person]:
    assert opportunity.id is not None
    people: dict[int, Person] = {}
    for role, person in team(session, opportunity.id):
        if role in roles and person.id is not None:
            people[person.id] = person
    if any(role in ORGANISATION_ROLES for role in roles):
        for person in session.exec(select(Person)).all():
            if person.id is not None and set(person.roles) & set(roles) & ORGANISATION_ROLES:
                people.setdefault(person.id, person)
    return list(people.values())


def routing_for(ctx: Context, tier: str, state: str) -> dict[str, Any]:
    """The routing table's answer for this tier and step (lead, who hears, who decides)."""
    from orchestrator.decisions import routing

    step = state if state not in {s.value for s in ENDS} else State.CONTRACT_PREPARATION.value
    return dict(routing(ctx.rules, tier=tier, step=step).outputs)


def _notify_transition(
    session: Session, ctx: Context, opportunity: Opportunity, event: AuditEvent
) -> None:
    account = account_of(session, opportunity)
    route = routing_for(ctx, account.tier, opportunity.state)
    roles = [*route.get("notify_roles", []), str(route.get("lead_role", ""))]
    waiting = WAITING_FOR.get(State(opportunity.state))
    text = render_message(
        ctx.settings.templates_dir,
        "transition",
        ref=opportunity.ref,
        title=opportunity.title,
        account=account.name,
        tier=account.tier,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor,
        reason=event.reason,
        next_action=waiting,
    )
    for person in _recipients(session, opportunity, roles):
        outbox.enqueue(
            session,
            key=f"transition:{event.idempotency_key}:{person.email}",
            event="transition",
            text=text,
            opportunity_id=opportunity.id,
            recipient_email=person.email,
        )


def _record_decision(
    session: Session,
    opportunity: Opportunity,
    decision: Any,
    *,
    decided_by: Person | None = None,
    human_outcome: str | None = None,
    reason: str | None = None,
) -> DecisionRecord:
    record = DecisionRecord(
        opportunity_id=opportunity.id or 0,
        table_name=decision.table,
        rule_file=decision.rule_file,
        rule_hash=decision.rule_hash,
        inputs=dict(decision.inputs),
        outputs=dict(decision.outputs),
        matched_rows=list(decision.matched_rows),
        evaluated_at=decision.evaluated_at,
        decided_by_id=decided_by.id if decided_by else None,
        human_outcome=human_outcome,
        reason=reason,
    )
    session.add(record)
    return record


# --- decision inputs ----------------------------------------------------------------------------


def _bants_decision(ctx: Context, session: Session, opportunity: Opportunity) -> Any:
    from orchestrator.decisions import qualify_lead

    bants = opportunity.bants
    return qualify_lead(
        ctx.rules,
        tier=account_of(session, opportunity).tier,
        budget_eur=float(bants["budget_eur"]),
        authority=str(bants["authority"]),
        need=str(bants["need"]),
        timeframe_months=int(bants["timeframe_months"]),
        sales_ready=bool(bants["sales_ready"]),
    )


def _open_bids_per_bid_manager(session: Session, opportunity: Opportunity) -> int:
    """How many open bids the bid manager of this bid carries (capacity for go/no-go)."""
    assert opportunity.id is not None
    managers = [p.id for role, p in team(session, opportunity.id) if role == Role.BID_MANAGER]
    if not managers:
        return 0
    busy = [s.value for s in OPEN_STATES if s != State.PRE_QUALIFICATION]
    count = session.exec(
        select(func.count(func.distinct(TeamMember.opportunity_id)))
        .where(TeamMember.role == Role.BID_MANAGER, col(TeamMember.person_id).in_(managers))
        .where(TeamMember.opportunity_id == Opportunity.id)
        .where(col(Opportunity.state).in_(busy))
        .where(Opportunity.id != opportunity.id)
    ).one()
    return int(count)


def latest_decision(session: Session, opportunity_id: int, table: str) -> DecisionRecord | None:
    return session.exec(
        select(DecisionRecord)
        .where(DecisionRecord.opportunity_id == opportunity_id)
        .where(DecisionRecord.table_name == table)
        .order_by(col(DecisionRecord.id).desc())
    ).first()


def _bants_result(session: Session, ctx: Context, opportunity: Opportunity) -> str:
    assert opportunity.id is not None
    record = latest_decision(session, opportunity.id, "bants")
    if record is None:
        decision = _bants_decision(ctx, session, opportunity)
        return str(decision.outputs["result"])
    return str(record.outputs["result"])


def go_no_go_recommendation(ctx: Context, session: Session, opportunity: Opportunity) -> Any:
    from orchestrator.decisions import go_no_go

    return go_no_go(
        ctx.rules,
        bants_result=_bants_result(session, ctx, opportunity),
        tier=account_of(session, opportunity).tier,
        revenue_eur=to_eur(ctx, opportunity.total_revenue, opportunity.currency),
        days_to_deadline=(opportunity.submission_deadline - ctx.clock().date()).days,
        open_bids_per_bid_manager=_open_bids_per_bid_manager(session, opportunity),
        strategic_fit=opportunity.strategic_fit,
    )


def to_eur(ctx: Context, amount: float, currency: str) -> float:
    """Convert with the rates in rules/fx_rates.yaml (EUR passes through)."""
    if currency.upper() == "EUR":
        return amount
    from orchestrator.quotes import to_eur as convert

    return float(convert(ctx.settings.rules_dir, amount, currency))


def governance_decision(ctx: Context, session: Session, opportunity: Opportunity) -> Any:
    from orchestrator.decisions import governance_requirements
    from orchestrator.quotes import bid_margin_pct

    return governance_requirements(
        ctx.rules,
        tier=account_of(session, opportunity).tier,
        total_contract_value_eur=to_eur(ctx, opportunity.total_revenue, opportunity.currency),
        margin_pct=bid_margin_pct(session, opportunity, ctx.settings.rules_dir, ctx.clock().date()),
    )


# --- step work ------------------------------------------------------------------------------


def _record_documents(
    session: Session, opportunity: Opportunity, produced: ProducedDocuments
) -> None:
    """Keep one Document row per (kind, name, content hash): a rerun adds nothing."""
    for document in produced.documents:
        exists = session.exec(
            select(Document.id).where(
                Document.opportunity_id == opportunity.id,
                Document.kind == document.kind,
                Document.name == document.name,
                Document.content_hash == document.content_hash,
            )
        ).first()
        if exists is None:
            session.add(
                Document(
                    opportunity_id=opportunity.id or 0,
                    kind=document.kind,
                    name=document.name,
                    path=str(document.path),
                    content_hash=document.content_hash,
                )
            )


def _plan_milestones(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    stage: str,
    anchor: datetime,
    areas: tuple[tuple[str, str], ...] = (),
) -> int:
    rules, _ = planning.load_milestone_rules(ctx.settings.rules_dir)
    planned = planning.plan(
        rules,
        stage,
        submission_deadline=opportunity.submission_deadline,
        anchor_time=anchor,
        areas=areas,
    )
    existing = {
        m.name: m
        for m in session.exec(
            select(Milestone).where(Milestone.opportunity_id == opportunity.id)
        ).all()
    }
    added = 0
    for item in planned:
        milestone = existing.get(item.name)
        if milestone is None:
            session.add(
                Milestone(
                    opportunity_id=opportunity.id or 0,
                    name=item.name,
                    due_at=item.due_at,
                    owner_role=item.owner_role,
                )
            )
            added += 1
        elif milestone.status == "done" and stage == "governance_request":
            milestone.due_at, milestone.status, milestone.completed_at = item.due_at, "open", None
            session.add(milestone)
    return added


def complete_milestones(
    session: Session, ctx: Context, opportunity: Opportunity, names: list[str]
) -> None:
    for milestone in session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id, col(Milestone.name).in_(names)
        )
    ).all():
        if milestone.status != "done":
            milestone.status = "done"
            milestone.completed_at = ctx.clock()
            session.add(milestone)


def _request_governance(
    session: Session, ctx: Context, opportunity: Opportunity, actor: str
) -> list[str]:
    """On entering governance review: which approvals, requested from whom, due when."""
    decision = governance_decision(ctx, session, opportunity)
    _record_decision(session, opportunity, decision)
    required: list[str] = list(decision.outputs["required"])
    approver_roles: dict[str, list[str]] = dict(decision.outputs["approver_roles"])
    now = ctx.clock()
    account = account_of(session, opportunity)
    for area in required:
        session.add(
            Approval(
                opportunity_id=opportunity.id or 0,
                area=area,
                status=ApprovalStatus.REQUESTED,
                proposal_hash=opportunity.proposal_hash,
                requested_at=now,
            )
        )
        text = render_message(
            ctx.settings.templates_dir,
            "approval_requested",
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            area=area,
            proposal_hash=opportunity.proposal_hash or "",
        )
        for person in _recipients(session, opportunity, approver_roles.get(area, [])):
            outbox.enqueue(
                session,
                key=f"approval:{opportunity.id}:{area}:{opportunity.proposal_hash}:{person.email}",
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
                    }
                ],
            )
    areas = tuple((area, (approver_roles.get(area) or [area])[0]) for area in required)
    _plan_milestones(session, ctx, opportunity, "governance_request", now, areas)
    return required


def _produce(ctx: Context, ref: str, kind: str) -> ProducedDocuments:
    """Render outside the database transaction (files are idempotent by content hash)."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        out_dir = ctx.output_dir_for(opportunity.ref)
        if kind == "bid":
            return ctx.documents.bid_documents(session, opportunity, out_dir)
        if kind == "submission":
            return ctx.documents.submission_package(session, opportunity, out_dir)
        return ctx.documents.order_sheet(session, opportunity, out_dir)


def advance(ctx: Context, ref: str, actor: str = "system") -> StepResult:
    """Do the current step's automated work and move on when its guards allow.

    Stops (without error) where the bid waits for a person: go/no-go, approvals, the
    customer's verdict. A guard that refuses raises `TransitionRefused` naming it.
    """
    with transaction(ctx.engine) as session:
        state = State(get_opportunity(session, ref).state)
    if state in ENDS:
        return StepResult(ref, state, state, f"the bid is closed ({state.value})")
    produced = ProducedDocuments()
    if state == State.BID_PRODUCTION:
        produced = _produce(ctx, ref, "bid")
    elif state == State.SUBMISSION:
        produced = _produce(ctx, ref, "submission")
    elif state == State.CONTRACT_PREPARATION:
        produced = _produce(ctx, ref, "order")

    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        if State(opportunity.state) != state:  # someone else moved it meanwhile
            return StepResult(opportunity.ref, state, State(opportunity.state), "moved meanwhile")
        _record_documents(session, opportunity, produced)
        inputs: dict[str, Any] = {}
        if state == State.PRE_QUALIFICATION:
            facts = load_facts(session, ctx, opportunity)
            from orchestrator.guards import bants_complete

            if bants_complete(facts).ok:
                decision = _bants_decision(ctx, session, opportunity)
                _record_decision(session, opportunity, decision)
                inputs = {"bants": decision.outputs}
                _plan_milestones(session, ctx, opportunity, "intake", opportunity.received_at)
        elif state == State.QUALIFICATION:
            return _await_go_no_go(session, ctx, opportunity)
        elif state == State.KICK_OFF:
            _plan_milestones(session, ctx, opportunity, "kick_off", ctx.clock())
        elif state == State.BID_PRODUCTION:
            opportunity.proposal_hash = produced.proposal_hash
            inputs = {"proposal_hash": produced.proposal_hash}
            complete_milestones(session, ctx, opportunity, ["design_freeze"])
        elif state == State.GOVERNANCE_REVIEW:
            complete = load_facts(session, ctx, opportunity)
            if set(complete.required_areas) - complete.granted_areas or not complete.required_areas:
                missing = sorted(set(complete.required_areas) - complete.granted_areas)
                return StepResult(
                    opportunity.ref,
                    state,
                    state,
                    f"waiting for approvals: {', '.join(missing) or 'none requested'}",
                    WAITING_FOR[state],
                )
            complete_milestones(session, ctx, opportunity, ["governance_approvals"])
        elif state == State.CUSTOMER_DECISION:
            return StepResult(
                opportunity.ref, state, state, "waiting for the customer", WAITING_FOR[state]
            )
        elif state == State.SUBMISSION:
            complete_milestones(session, ctx, opportunity, ["submission"])

        transition = automatic_transition(state)
        if transition is None:  # pragma: no cover - every open state is handled above
            raise TransitionRefused(f"{state.value} has no automatic step")
        _move(
            session,
            ctx,
            opportunity,
            transition.trigger,
            actor=actor,
            inputs=inputs,
            order_sheet_problems=tuple(produced.problems),
        )
        if opportunity.state == State.GOVERNANCE_REVIEW:
            _request_governance(session, ctx, opportunity, actor)
        if opportunity.state == State.QUALIFICATION:
            _await_go_no_go(session, ctx, opportunity)
        return StepResult(
            opportunity.ref,
            state,
            State(opportunity.state),
            f"{state.value} → {opportunity.state}",
            WAITING_FOR.get(State(opportunity.state)),
            [str(d.path) for d in produced.documents],
        )


def _await_go_no_go(session: Session, ctx: Context, opportunity: Opportunity) -> StepResult:
    """Record the rules' recommendation once per qualification round and ask the deciders."""
    assert opportunity.id is not None
    decision = go_no_go_recommendation(ctx, session, opportunity)
    entered = session.exec(
        select(AuditEvent)
        .where(AuditEvent.opportunity_id == opportunity.id)
        .where(AuditEvent.to_state == State.QUALIFICATION.value)
        .where(AuditEvent.from_state != AuditEvent.to_state)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    previous = latest_decision(session, opportunity.id, "go_no_go")
    fresh = (
        previous is None
        or entered is None
        or previous.evaluated_at < entered.at
        or previous.rule_hash != decision.rule_hash
        or previous.inputs != dict(decision.inputs)
    )
    if fresh:
        _record_decision(session, opportunity, decision)
        account = account_of(session, opportunity)
        route = routing_for(ctx, account.tier, State.QUALIFICATION.value)
        text = render_message(
            ctx.settings.templates_dir,
            "go_no_go_requested",
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            recommendation=decision.outputs["recommendation"],
            rule_reason=decision.outputs.get("reason"),
        )
        for person in _recipients(session, opportunity, list(route.get("decider_roles", []))):
            outbox.enqueue(
                session,
                key=f"go_no_go:{opportunity.id}:{entered.id if entered else 0}:{person.email}",
                event="go_no_go_requested",
                text=text,
                opportunity_id=opportunity.id,
                recipient_email=person.email,
                blocks=[{"type": "go_no_go", "opportunity": opportunity.ref}],
            )
    return StepResult(
        opportunity.ref,
        State.QUALIFICATION,
        State.QUALIFICATION,
        f"recommendation: {decision.outputs['recommendation']} "
        f"({decision.outputs.get('reason', '')})",
        WAITING_FOR[State.QUALIFICATION],
    )


# --- human decisions ------------------------------------------------------------------------


def decide(
    ctx: Context,
    ref: str,
    *,
    outcome: str,
    by: str,
    reason: str,
    category: str | None = None,
) -> StepResult:
    """Record a person's go/no-go beside the rules' recommendation and move the bid."""
    if outcome not in GO_NO_GO_TRIGGERS:
        raise InputError(f"outcome must be one of {', '.join(GO_NO_GO_TRIGGERS)}", field="outcome")
    try:
        with transaction(ctx.engine) as session:
            opportunity = get_opportunity(session, ref)
            if opportunity.state != State.QUALIFICATION:
                raise TransitionRefused(
                    f"{opportunity.ref} is in {opportunity.state}; "
                    "go/no-go is taken in qualification"
                )
            person = get_person(session, by)
            account = account_of(session, opportunity)
            deciders = list(routing_for(ctx, account.tier, opportunity.state)["decider_roles"])
            if not holds_role(session, opportunity, person, deciders):
                raise DecisionRefused(
                    f"{person.email} may not take the go/no-go on {opportunity.ref}; "
                    f"it needs one of: {', '.join(deciders)}"
                )
            decision = go_no_go_recommendation(ctx, session, opportunity)
            if decision.outputs.get("hard") and outcome != decision.outputs["recommendation"]:
                raise DecisionRefused(
                    f"rule {decision.outputs.get('rule', '?')} forbids overriding "
                    f"'{decision.outputs['recommendation']}': {decision.outputs.get('reason', '')}"
                )
            if outcome == "no_bid":
                _check_category(ctx, category)
                opportunity.result_category, opportunity.result_reason = category, reason
                _put_account_to_sleep(session, ctx, opportunity)
            _record_decision(
                session,
                opportunity,
                decision,
                decided_by=person,
                human_outcome=outcome,
                reason=reason,
            )
            event = _move(
                session,
                ctx,
                opportunity,
                GO_NO_GO_TRIGGERS[outcome],
                actor=person.email,
                reason=reason,
                inputs={
                    "recommendation": decision.outputs["recommendation"],
                    "outcome": outcome,
                    "overridden": outcome != decision.outputs["recommendation"],
                },
            )
            if outcome == "bid":
                complete_milestones(session, ctx, opportunity, ["go_no_go_decision"])
            return StepResult(
                opportunity.ref,
                State(event.from_state or ""),
                State(opportunity.state),
                f"{outcome} decided by {person.email} (rules recommended "
                f"{decision.outputs['recommendation']})",
            )
    except (DecisionRefused, TransitionRefused) as refusal:
        _audit_refusal(ctx, ref, "decide", by, str(refusal))
        raise


def set_strategy(ctx: Context, ref: str, *, text: str, by: str) -> StepResult:
    """Record a (reworked) bid strategy; after *redefine strategy* the bid is decided again."""
    if not text.strip():
        raise InputError("the strategy text is empty", field="strategy")
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        if State(opportunity.state) in ENDS:
            raise TransitionRefused(f"{opportunity.ref} is closed ({opportunity.state})")
        person = get_person(session, by)
        opportunity.strategy = text.strip()
        session.add(opportunity)
        _audit(session, ctx, opportunity, "strategy_set", actor=person.email, reason=text.strip())
        state = State(opportunity.state)
        return StepResult(opportunity.ref, state, state, "strategy recorded")


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
            opportunity = get_opportunity(session, ref)
            if opportunity.state != State.GOVERNANCE_REVIEW:
                raise ApprovalError(
                    f"{opportunity.ref} is in {opportunity.state}, not in governance review"
                )
            if proposal_hash and proposal_hash != opportunity.proposal_hash:
                raise ApprovalError(
                    f"this approval is for an outdated proposal version {proposal_hash[:12]}; "
                    f"the current version is {(opportunity.proposal_hash or '')[:12]}"
                )
            person = get_person(session, by)
            approvals = [a for a in current_approvals(session, opportunity) if a.area == area]
            if not approvals:
                raise ApprovalError(f"no {area} approval is requested for {opportunity.ref}")
            assert opportunity.id is not None
            record = latest_decision(session, opportunity.id, "governance")
            roles = list((record.outputs if record else {}).get("approver_roles", {}).get(area, []))
            if not holds_role(session, opportunity, person, roles):
                raise ApprovalError(
                    f"{person.email} may not decide the {area} approval on {opportunity.ref}; "
                    f"it needs one of: {', '.join(roles)}"
                )
            pending = [a for a in approvals if a.status == ApprovalStatus.REQUESTED]
            state = State(opportunity.state)
            if not pending:
                done = approvals[-1]
                return StepResult(
                    opportunity.ref, state, state, f"{area} already {done.status}; nothing recorded"
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
                return StepResult(opportunity.ref, state, state, f"{area} already decided")
            verdict = "rejected" if reject else "granted"
            _audit(
                session,
                ctx,
                opportunity,
                f"approval_{verdict}",
                actor=person.email,
                reason=reason,
                inputs={"area": area, "proposal_hash": opportunity.proposal_hash},
            )
            complete_milestones(session, ctx, opportunity, [f"governance_signoff_{area}"])
            if reject:
                for other in current_approvals(session, opportunity):
                    if other.status == ApprovalStatus.REQUESTED:
                        other.status = ApprovalStatus.INVALIDATED
                        session.add(other)
                _move(
                    session,
                    ctx,
                    opportunity,
                    "reject_governance",
                    actor=person.email,
                    reason=f"{area} rejected: {reason}",
                    inputs={"area": area},
                )
            return StepResult(
                opportunity.ref,
                state,
                State(opportunity.state),
                f"{area} {verdict} by {person.email}",
            )
    except ApprovalError as refusal:
        _audit_refusal(ctx, ref, "approve", by, str(refusal))
        raise


def _check_category(ctx: Context, category: str | None) -> None:
    from orchestrator.funnel_config import reason_categories

    allowed = reason_categories(ctx.settings.rules_dir)
    if category not in allowed:
        raise InputError(f"choose a reason category: {', '.join(allowed)}", field="category")


def _put_account_to_sleep(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """Lost and no-bid accounts become sleeping accounts with a reminder date."""
    from datetime import timedelta

    from orchestrator.funnel_config import sleeping_reminder_days

    account = account_of(session, opportunity)
    days = sleeping_reminder_days(ctx.settings.rules_dir)
    account.sleeping_until = ctx.clock().date() + timedelta(days=days)
    session.add(account)


def record_result(
    ctx: Context,
    ref: str,
    *,
    won: bool,
    reason: str,
    by: str = "system",
    category: str | None = None,
) -> StepResult:
    """The customer's verdict at the decision step: won goes to contract preparation."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        if not won:
            _check_category(ctx, category)
        opportunity.result_reason, opportunity.result_category = reason, category
        event = _move(
            session,
            ctx,
            opportunity,
            "win" if won else "lose",
            actor=by,
            reason=reason,
            inputs={"category": category},
        )
        if not won:
            _put_account_to_sleep(session, ctx, opportunity)
        return StepResult(
            opportunity.ref, State(event.from_state or ""), State(opportunity.state), "recorded"
        )


def withdraw(
    ctx: Context, ref: str, *, reason: str, by: str = "system", category: str | None = None
) -> StepResult:
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        _check_category(ctx, category)
        opportunity.result_reason, opportunity.result_category = reason, category
        event = _move(session, ctx, opportunity, "withdraw", actor=by, reason=reason)
        return StepResult(
            opportunity.ref, State(event.from_state or ""), State(opportunity.state), "withdrawn"
        )


def run_to_wait(ctx: Context, ref: str, actor: str = "system", limit: int = 20) -> list[StepResult]:
    """Advance step after step until the bid waits for a person, is closed, or a guard refuses."""
    results: list[StepResult] = []
    for _ in range(limit):
        try:
            result = advance(ctx, ref, actor)
        except BidError:
            if results:
                break
            raise
        results.append(result)
        if not result.moved:
            break
    return results
