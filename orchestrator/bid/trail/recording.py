"""Recording a change to a bid inside the caller's transaction.

The state with its audit event, the decision records, the notifications (outbox rows), the
documents, the milestones and the effects that follow (render the documents again, carry the
bid on: rows of the effects outbox) are all written here, so that a change commits whole or
not at all. Nothing runs in session event hooks: the dispatcher runs the effects after the
commit (`orchestrator.dispatch`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import (
    ORGANISATION_ROLES,
    account_of,
    get_opportunity,
    refuse_when_held,
    team,
)
from orchestrator.bid.measures import planning
from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.context import Context
from orchestrator.core.effects import (
    EffectKind,
    EffectStatus,
    carry_key,
    change_render_key,
    render_key,
)
from orchestrator.errors import NotPermitted
from orchestrator.lifecycle.machine import fire
from orchestrator.lifecycle.table import (
    ENDS,
    WAITING_FOR,
    WON_STATES,
    State,
    automatic_transition,
)
from orchestrator.metrics import transition_recorded
from orchestrator.ports import ProducedDocuments
from orchestrator.store import effects, outbox
from orchestrator.store.db import settle_before_commit, transaction
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    DecisionRecord,
    Document,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Person,
    Task,
    TaskStatus,
)

# --- who records: "recorded by X for Y" -------------------------------------------------------

_RECORDER: ContextVar[tuple[str, str | None] | None] = ContextVar("bid_recorder", default=None)


@contextmanager
def recorded_by(recorder: str | None, for_actor: str | None = None) -> Iterator[None]:
    """Changes in this block are recorded by `recorder` (an admin or recorder using `--by`)
    for `for_actor` (for every person, when None): their audit events say so
    (`inputs.recorded_by`); events of the process's own automation ("rules") do not."""
    token = _RECORDER.set((recorder, for_actor) if recorder else None)
    try:
        yield
    finally:
        _RECORDER.reset(token)


def _stamped(actor: str, inputs: dict[str, Any] | None) -> dict[str, Any]:
    recording = _RECORDER.get()
    if recording is not None:
        recorder, for_actor = recording
        acted_for = actor == for_actor if for_actor else "@" in actor
        if acted_for and recorder != actor:
            return {**(inputs or {}), "recorded_by": recorder}
    return dict(inputs or {})


# --- who acted: a person, or the system on a person's answer ---------------------------------

SYSTEM = "system"
"""The actor of a step the process takes by itself (never a person's e-mail)."""
ANSWERS = {
    "approval_granted": "approval",
    "approval_rejected": "rejection",
    "decide_bid": "go/no-go decision",
    "decide_no_bid": "go/no-go decision",
    "win": "result",
    "lose": "result",
    "request_bafo": "best-and-final request",
    "order_details_set": "order details",
    "sites_changed": "site change",
    "macd": "MACD",
}
"""How the trail names the answer that set the system going, by the answer's trigger."""


def system_acting(person: str, answer: str) -> tuple[str, dict[str, Any]]:
    """The actor and inputs of a step the system takes because of `person`'s `answer`: the
    trail says "by the system, on <person>'s <answer>" and never that the person did it. An
    actor that is already the system (no e-mail) stays as it is."""
    if "@" not in person:
        return person, {}
    return SYSTEM, {"on_answer_of": person, "answer": answer}


def answer_of(session: Session, opportunity: Opportunity, person: str) -> str:
    """What `person` last answered on the bid (its trigger in words), for the trail."""
    last = session.exec(
        select(AuditEvent.trigger)
        .where(AuditEvent.opportunity_id == opportunity.id, AuditEvent.actor == person)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    return ANSWERS.get(str(last), "request") if last is not None else "request"


def acted_by(actor: str, inputs: dict[str, Any]) -> str:
    """The actor as the trail shows it: a person, or "the system, on X's approval"."""
    person = inputs.get("on_answer_of")
    if person:
        return f"the system, on {person}'s {inputs.get('answer') or 'answer'}"
    return actor


# --- after a change: milestones kept true, documents rendered again, the bid carried on ------


def _changed(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """This unit of work changed the bid: just before it commits, its milestones are brought
    in line with everything the unit did (an explicit step of `store.db.transaction`)."""
    opportunity_id = opportunity.id
    if opportunity_id is None:
        return

    def sync(session: Session) -> None:
        current = session.get(Opportunity, opportunity_id)
        if current is not None and planning.sync_milestones(session, ctx, current):
            _plan_changed(session, ctx, current)

    settle_before_commit(session, ("milestones", opportunity_id), sync)


def _plan_changed(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """A milestone closed or reopened without a move: the documents that follow the bid (the
    Bid Control Plan among them, and its artifact in the Prefect UI) are rendered again, by a
    `render` effect — unless one is still waiting to run for the bid (it will show this)."""
    waiting = [
        e
        for e in effects.open_effects(session, opportunity.id or 0)
        if e.kind == EffectKind.RENDER and e.status == EffectStatus.PENDING
    ]
    if waiting:
        return
    now = ctx.clock()
    effects.enqueue(
        session,
        key=f"{render_key(opportunity.id or 0, opportunity.version)}:plan:{uuid.uuid4().hex}",
        kind=EffectKind.RENDER,
        opportunity_id=opportunity.id,
        payload={"ref": opportunity.ref},
        now=now,
    )


def render_after(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """The documents that follow the bid are rendered again once this move is committed:
    a `render` effect in the move's transaction, run by the dispatcher (never inside it)."""
    effects.enqueue(
        session,
        key=render_key(opportunity.id or 0, opportunity.version),
        kind=EffectKind.RENDER,
        opportunity_id=opportunity.id,
        payload={"ref": opportunity.ref},
        now=ctx.clock(),
    )


def render_after_change(
    session: Session, ctx: Context, opportunity: Opportunity, *, cause: str, actor: str
) -> None:
    """A change that does not move the bid but changes what its documents say (a fix to
    the order sheet, a MACD applied): the documents that follow the bid — the order sheet
    and its tasks, the control plan — are rendered again once it is committed, through a
    `render` effect, so nobody needs `bid docs` for it. Written after a win only (before,
    the next step renders them)."""
    if opportunity.state not in WON_STATES:
        return
    effects.enqueue(
        session,
        key=change_render_key(opportunity.id or 0, opportunity.version, cause),
        kind=EffectKind.RENDER,
        opportunity_id=opportunity.id,
        payload={"ref": opportunity.ref, "actor": actor, "cause": cause},
        now=ctx.clock(),
    )


def carry_on(
    session: Session, ctx: Context, opportunity: Opportunity, *, actor: str, cause: str
) -> None:
    """The answer recorded in this transaction unblocked the bid's automated work: a `carry`
    effect, written once by the handler that received the answer (never by a door). Nothing
    is written where the bid has no automated work to do (closed, or waiting for people)."""
    if opportunity.state in ENDS or automatic_transition(opportunity.state) is None:
        return
    if opportunity.held_at is not None:  # on hold: `bid resume` carries it on
        return
    effects.enqueue(
        session,
        key=carry_key(opportunity.id or 0, opportunity.version, cause),
        kind=EffectKind.CARRY,
        opportunity_id=opportunity.id,
        payload={"ref": opportunity.ref, "actor": actor, "cause": cause},
        now=ctx.clock(),
    )


# --- the one path: move a bid, with audit event and notifications, in the caller's transaction -


def move_bid(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    trigger: str,
    *,
    actor: str,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
    order_sheet_problems: tuple[str, ...] = (),
    production_open: tuple[str, ...] | None = None,
) -> AuditEvent:
    """Fire `trigger`; on success add the audit event and queue the notifications. A bid on
    hold moves nowhere but out (a withdrawal)."""
    if trigger != "withdraw":
        refuse_when_held(opportunity)
    facts = load_facts(session, ctx, opportunity, reason, order_sheet_problems, production_open)
    source, dest = fire(opportunity, trigger, facts)
    now = ctx.clock()
    opportunity.version += 1
    opportunity.updated_at = now
    event = AuditEvent(
        opportunity_id=opportunity.id or 0,
        at=now,
        actor=actor,
        from_state=source,
        to_state=dest,
        trigger=trigger,
        reason=reason,
        inputs=_stamped(actor, inputs),
        idempotency_key=f"{opportunity.id}:{trigger}:{opportunity.version}",
    )
    session.add(opportunity)
    session.add(event)
    transition_recorded(opportunity.ref, source, dest, trigger)
    if dest in ENDS:
        close_what_is_open(session, ctx, opportunity, reason)
    session.flush()
    notify_transition(session, ctx, opportunity, event)
    render_after(session, ctx, opportunity)
    _changed(session, ctx, opportunity)
    return event


def close_what_is_open(
    session: Session, ctx: Context, opportunity: Opportunity, reason: str | None
) -> None:
    """A bid that closes closes what it opened: its milestones, the approvals still
    requested (their approvers are told), the tasks people still had for it."""
    close_open_milestones(session, ctx, opportunity)
    now = ctx.clock()
    for task in session.exec(
        select(Task).where(Task.opportunity_id == opportunity.id, Task.status == TaskStatus.OPEN)
    ).all():
        task.status, task.closed_at = TaskStatus.CANCELLED, now
        session.add(task)
    requested = session.exec(
        select(Approval).where(
            Approval.opportunity_id == opportunity.id,
            Approval.status == ApprovalStatus.REQUESTED,
        )
    ).all()
    if not requested:
        return
    account = account_of(session, opportunity)
    for approval in requested:
        approval.status, approval.decided_at = ApprovalStatus.CANCELLED, now
        approval.reason = f"the bid is {opportunity.state.value}"
        session.add(approval)
        text = ctx.messages.render(
            "approval_cancelled",
            ref=opportunity.ref,
            title=opportunity.title,
            account=account.name,
            area=approval.area,
            to_state=opportunity.state.value,
            reason=reason,
        )
        for person in recipients(session, opportunity, approval.deciding_roles):
            outbox.enqueue(
                session,
                key=f"approval_cancelled:{approval.id}:{person.email}",
                event="approval_cancelled",
                text=text,
                opportunity_id=opportunity.id,
                recipient_email=person.email,
            )


def close_open_milestones(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """A closed bid has no deadlines left to watch."""
    for milestone in session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id, Milestone.status == MilestoneStatus.OPEN
        )
    ).all():
        milestone.status = MilestoneStatus.CLOSED
        milestone.completed_at = ctx.clock()
        session.add(milestone)


def audit(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    trigger: str,
    *,
    actor: str,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> AuditEvent:
    """An audit event that does not change the state (a decision, a refusal, an import)."""
    event = AuditEvent(
        opportunity_id=opportunity.id or 0,
        at=ctx.clock(),
        actor=actor,
        from_state=opportunity.state,
        to_state=opportunity.state,
        trigger=trigger,
        reason=reason,
        inputs=_stamped(actor, inputs),
    )
    session.add(event)
    session.flush()
    if not trigger.endswith("_refused"):
        _changed(session, ctx, opportunity)
    return event


def audit_creation(
    session: Session, ctx: Context, opportunity: Opportunity, *, actor: str, inputs: dict[str, Any]
) -> AuditEvent:
    """The first event of a bid: it comes from nowhere into its first state."""
    event = AuditEvent(
        opportunity_id=opportunity.id or 0,
        at=opportunity.created_at,
        actor=actor,
        from_state=None,
        to_state=opportunity.state,
        trigger=CREATE_TRIGGER,
        inputs=_stamped(actor, inputs),
        idempotency_key=f"{opportunity.id}:{CREATE_TRIGGER}:0",
    )
    session.add(event)
    session.flush()
    return event


CREATE_TRIGGER = "create"
CRASH_TRIGGER = "flow_crashed"


def record_flow_crash(ctx: Context, ref: str, reason: str, run_name: str = "") -> bool:
    """Keep on the bid why its last automated run stopped (state unchanged).

    False when the last event already says the same (a retried run crashing again).
    """
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        last = session.exec(
            select(AuditEvent)
            .where(AuditEvent.opportunity_id == opportunity.id)
            .order_by(col(AuditEvent.id).desc())
        ).first()
        if last is not None and last.trigger == CRASH_TRIGGER and last.reason == reason:
            return False
        audit(
            session,
            ctx,
            opportunity,
            CRASH_TRIGGER,
            actor="prefect",
            reason=reason,
            inputs={"flow_run": run_name} if run_name else {},
        )
        return True


def audit_refusal(ctx: Context, ref: str, trigger: str, actor: str, reason: str) -> None:
    """Refusals are kept in the audit trail, in their own transaction (the change rolled back)."""
    with transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        audit(session, ctx, opportunity, f"{trigger}_refused", actor=actor, reason=reason)


@contextmanager
def refusals_kept(ctx: Context, ref: str, trigger: str, actor: str) -> Iterator[None]:
    """A change refused because its actor may not make it is kept on the trail; wrap the
    change's transaction in this (the refusal is written after it rolled back)."""
    try:
        yield
    except NotPermitted as refusal:
        audit_refusal(ctx, ref, trigger, actor, str(refusal))
        raise


def recipients(session: Session, opportunity: Opportunity, roles: list[str]) -> list[Person]:
    if opportunity.id is None:  # rows read from the database always have one
        raise ValueError("the opportunity is not stored")
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
    from orchestrator.decisions.engine import routing

    step = state if state not in {s.value for s in ENDS} else State.CONTRACT_PREPARATION.value
    return dict(routing(ctx.rules, tier=tier, step=step).outputs)


def passes_through(state: State) -> bool:
    """The bid leaves this state by itself (its automation moves it on, nobody waits in it):
    a move into it concerns nobody, and the next stop's message says where the bid went."""
    return (
        state not in ENDS and state not in WAITING_FOR and automatic_transition(state) is not None
    )


def notify_transition(
    session: Session, ctx: Context, opportunity: Opportunity, event: AuditEvent
) -> None:
    """Tell the step's lead and the roles the routing table names that the bid moved — only
    when it concerns them: not a move into a state the bid passes through on its own, and
    not the person who made the move."""
    if passes_through(opportunity.state):
        return
    account = account_of(session, opportunity)
    route = routing_for(ctx, account.tier, opportunity.state)
    roles = [*route.get("notify_roles", []), str(route.get("lead_role", ""))]
    waiting = WAITING_FOR.get(opportunity.state)
    text = ctx.messages.render(
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
    outbox.enqueue_each(
        session,
        [
            {
                "key": f"transition:{event.idempotency_key}:{person.email}",
                "event": "transition",
                "text": text,
                "opportunity_id": opportunity.id,
                "recipient_email": person.email,
            }
            for person in recipients(session, opportunity, roles)
            if person.email != event.actor  # they made the move and saw its answer
        ],
    )


def record_decision(
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


# --- step work ------------------------------------------------------------------------------


def record_documents(
    session: Session, opportunity: Opportunity, produced: ProducedDocuments
) -> int:
    """Keep one Document row per (kind, name, content hash): a rerun adds nothing. Returns
    how many rows were added."""
    return record_changes(session, opportunity, produced)[0]


def record_changes(
    session: Session, opportunity: Opportunity, produced: ProducedDocuments
) -> tuple[int, set[str]]:
    """Record the documents (one row per kind, name and content hash); return how many rows
    were added, and the kinds whose content differs from the newest recorded one of the same
    name (new ones too)."""
    rows = session.exec(
        select(Document).where(Document.opportunity_id == opportunity.id).order_by(col(Document.id))
    ).all()
    existing = {(d.kind, d.name, d.content_hash) for d in rows}
    newest = {(d.kind, d.name): d.content_hash for d in rows}
    changed = {d.kind for d in produced.documents if newest.get((d.kind, d.name)) != d.content_hash}
    added = 0
    for document in produced.documents:
        key = (document.kind, document.name, document.content_hash)
        if key in existing:
            continue
        existing.add(key)
        session.add(
            Document(
                opportunity_id=opportunity.id or 0,
                kind=document.kind,
                name=document.name,
                path=document.location,
                content_hash=document.content_hash,
            )
        )
        added += 1
    return added, changed


def plan_milestones(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    stage: str,
    anchor: datetime,
    areas: tuple[tuple[str, str], ...] = (),
) -> int:
    """Add the Bid Control Plan's milestones planned at `stage`; return how many were new.

    A milestone whose owner role nobody holds on this bid (a bid manager on a major account,
    say) goes to the bid's lead by the routing rules, so every deadline has an owner.
    """
    rules, _ = planning.load_milestone_rules(ctx.settings.rules_dir)
    team_roles = {role for role, _ in team(session, opportunity.id or 0)}
    lead = str(routing_for(ctx, account_of(session, opportunity).tier, State.KICK_OFF)["lead_role"])

    def owner(role: str) -> str:
        return role if role in team_roles or role in ORGANISATION_ROLES else lead

    planned = planning.plan(
        rules,
        stage,
        submission_deadline=opportunity.submission_deadline,
        anchor_time=anchor,
        areas=areas,
        country=planning.home_country(ctx),
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
                    owner_role=owner(item.owner_role),
                )
            )
            added += 1
        elif (milestone.status == MilestoneStatus.DONE and stage == "governance_request") or (
            stage == "submission"  # each offer sent starts the customer's clock again
        ):
            milestone.due_at, milestone.completed_at = item.due_at, None
            milestone.status = MilestoneStatus.OPEN
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
        if milestone.status != MilestoneStatus.DONE:
            milestone.status = MilestoneStatus.DONE
            milestone.completed_at = ctx.clock()
            session.add(milestone)


def check_category(ctx: Context, category: str | None, *, needed_for: str = "") -> str:
    """Lost, no-bid and withdrawn bids need a category from the controlled list (any case);
    returns it as the list spells it."""
    from orchestrator.decisions.funnel_rules import check_reason_category

    return check_reason_category(ctx.settings.rules_dir, category or "", needed_for=needed_for)


def put_account_to_sleep(session: Session, ctx: Context, opportunity: Opportunity) -> None:
    """Lost and no-bid accounts become sleeping accounts with a reminder date."""
    from orchestrator.bid.customers.accounts import put_to_sleep

    put_to_sleep(
        session, opportunity.account_id, today=ctx.clock().date(), rules_dir=ctx.settings.rules_dir
    )
