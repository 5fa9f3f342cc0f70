"""Tasks for people: what a won bid needs fixed before the contract is signed.

A won bid always moves on: when the clean order sheet has problems (wrong postcodes, lines
without a price, sites without a contact phone), each KIND of problem becomes one task for
the order manager, its sites listed ("1,612 sites without a contact phone: ..."), with a
message; the bid waits in contract preparation. A fix (`bid sites update`, `bid order
details`, a quote import) renders the order sheet again through its `render` effect, which
checks the tasks at once: a kind whose sites are all fixed closes its task, a kind with
fewer sites keeps its task with the sites left. A bid that closes cancels its open tasks.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import account_of, get_opportunity
from orchestrator.bid.trail.recording import audit, recipients, routing_for
from orchestrator.context import Context
from orchestrator.lifecycle.table import State
from orchestrator.store import outbox
from orchestrator.store.db import reading
from orchestrator.store.models import Opportunity, Role, Task, TaskStatus

ORDER_MANAGER = Role.SALES_SUPPORT.value
"""Who fixes the order sheet. Sales support until the roles know an order manager."""
ORDER_SHEET = "order_sheet"


_GROUPED = re.compile(r"^[\d,]+ sites? (?P<kind>[^:]+): ")


def _key(problem: str) -> str:
    """A task per kind of problem: its sites may change (some fixed), the task stays."""
    grouped = _GROUPED.match(problem)
    what = grouped.group("kind") if grouped else problem
    return hashlib.sha256(what.encode()).hexdigest()[:24]


def open_tasks(session: Session, opportunity: Opportunity) -> list[Task]:
    return list(
        session.exec(
            select(Task)
            .where(Task.opportunity_id == opportunity.id, Task.status == TaskStatus.OPEN)
            .order_by(col(Task.id))
        ).all()
    )


def headline(text: str) -> str:
    """A task in short: the kind of problem and how many sites, without the site list."""
    grouped = _GROUPED.match(text)
    return text[: grouped.end() - 2] if grouped else text


def has_order_tasks(session: Session, opportunity: Opportunity) -> bool:
    """Whether the won bid's step ever opened order-sheet tasks (open or done)."""
    return (
        session.exec(
            select(Task.id).where(Task.opportunity_id == opportunity.id, Task.kind == ORDER_SHEET)
        ).first()
        is not None
    )


def order_sheet_tasks(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    problems: list[str],
    actor: str,
    *,
    on_fix_of: str | None = None,
) -> list[Task]:
    """Make the order sheet's problems the open tasks: a new problem opens a task (the order
    manager is told once), a problem gone closes its task. Returns the open tasks."""
    now = ctx.clock()
    wanted = {_key(problem): problem for problem in problems}
    existing = {
        task.key: task
        for task in session.exec(
            select(Task).where(Task.opportunity_id == opportunity.id, Task.kind == ORDER_SHEET)
        ).all()
    }
    fixed = []
    narrowed = []
    for key, task in existing.items():
        if task.status == TaskStatus.OPEN and key not in wanted:
            task.status, task.closed_at = TaskStatus.DONE, now
            session.add(task)
            fixed.append(task.text)
    new: list[Task] = []
    for key, problem in wanted.items():
        found = existing.get(key)
        if found is None:
            task = Task(
                opportunity_id=opportunity.id or 0,
                kind=ORDER_SHEET,
                key=key,
                text=problem,
                owner_role=ORDER_MANAGER,
                created_at=now,
            )
            new.append(task)
        else:
            task = found
            if task.status != TaskStatus.OPEN:  # the same problem came back
                task.status, task.closed_at = TaskStatus.OPEN, None
                new.append(task)
            elif task.text != problem:  # the same kind of problem on other sites
                narrowed.append(problem)
            task.text = problem
        session.add(task)
    session.flush()
    if new or fixed or narrowed:
        audit(
            session,
            ctx,
            opportunity,
            "order_tasks",
            actor=actor,
            reason=f"{len(new)} order-sheet problem(s) to fix, {len(fixed)} fixed, "
            f"{len(narrowed)} changed",
            inputs={
                "opened": [t.text for t in new],
                "fixed": fixed,
                "changed": narrowed,
                **(
                    {"on_answer_of": on_fix_of, "answer": "fix"}
                    if on_fix_of and "@" in on_fix_of
                    else {}
                ),
            },
        )
    if new:
        _tell_order_manager(session, ctx, opportunity, new)
    return open_tasks(session, opportunity)


def _tell_order_manager(
    session: Session, ctx: Context, opportunity: Opportunity, tasks: list[Task]
) -> None:
    account = account_of(session, opportunity)
    people = recipients(session, opportunity, [ORDER_MANAGER])
    if not people:  # nobody on the team orders: the bid's lead hears it
        lead = str(routing_for(ctx, account.tier, State.CONTRACT_PREPARATION).get("lead_role"))
        people = recipients(session, opportunity, [lead])
    text = ctx.messages.render(
        "order_tasks",
        ref=opportunity.ref,
        title=opportunity.title,
        account=account.name,
        problems=[task.text for task in tasks],
    )
    batch = _key("|".join(sorted(task.key for task in tasks)))
    for person in people:
        outbox.enqueue(
            session,
            key=f"order_tasks:{opportunity.id}:{batch}:{person.email}",
            event="order_tasks",
            text=text,
            opportunity_id=opportunity.id,
            recipient_email=person.email,
        )


def open_task_rows(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """The bid's open tasks as plain rows (`bid tasks`)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return [
            {
                "id": task.id,
                "kind": task.kind,
                "owner_role": task.owner_role,
                "created_at": task.created_at.isoformat(),
                "text": task.text,
            }
            for task in open_tasks(session, opportunity)
        ]


def cancel_open_tasks(session: Session, ctx: Context, opportunity: Opportunity) -> int:
    """The bid closed: nobody needs to fix anything for it any more."""
    tasks = open_tasks(session, opportunity)
    for task in tasks:
        task.status, task.closed_at = TaskStatus.CANCELLED, ctx.clock()
        session.add(task)
    return len(tasks)
