"""Intake exceptions as tasks for people: a site's bandwidth a design must answer, a quote far
from the list price. An import opens them (in its own transaction); `bid.design` closes them;
bid production's exit criterion `exceptions_resolved` and the design freeze count them, and
`bid status` lists the open ones. Apart from `bid.design` so that the freeze and the exit
criteria can count them without importing the commands that change a bid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from orchestrator.context import Context
from orchestrator.intake.findings import Finding
from orchestrator.store.models import Opportunity, Task, TaskStatus

SITE_EXCEPTION = "site_exception"
"""A task kind: a site's bandwidth a design must answer (bid design propose)."""
QUOTE_OUTLIER = "quote_outlier"
"""A task kind: a quote far from the list price (bid quotes accept|requote)."""
EXCEPTION_KINDS = (SITE_EXCEPTION, QUOTE_OUTLIER)
OPEN_SHOWN = 5


def _key(site_id: str, rule: str) -> str:
    return f"{site_id}:{rule}"[:200]


def open_exception_tasks(
    session: Session, ctx: Context, opportunity: Opportunity, kind: str, found: Iterable[Finding]
) -> int:
    """Open one task per exception (in the caller's transaction); a task already open for
    the same site and rule stays as it is. Returns how many were opened."""
    existing = {
        task.key: task
        for task in session.exec(
            select(Task).where(Task.opportunity_id == opportunity.id, Task.kind == kind)
        ).all()
    }
    now = ctx.clock()
    opened = 0
    for finding in found:
        key = _key(finding.site_id or "", finding.rule)
        text = f"site {finding.site_id}: {finding.message}"
        task = existing.get(key)
        if task is None:
            task = Task(
                opportunity_id=opportunity.id or 0,
                kind=kind,
                key=key,
                text=text,
                owner_role=finding.owner_role or "solution_consultant",
                created_at=now,
            )
            existing[key] = task
        elif task.status == TaskStatus.OPEN:
            continue
        else:
            task.status, task.closed_at, task.text = TaskStatus.OPEN, None, text
        session.add(task)
        opened += 1
    return opened


def close_exception_tasks(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    kind: str,
    site_ids: set[str],
    *,
    cancel: bool = False,
) -> int:
    """Close the open tasks of `kind` for these sites (done; with `cancel`, cancelled: the
    site is gone); how many were closed."""
    if not site_ids:
        return 0
    closed = 0
    for task in session.exec(
        select(Task).where(
            Task.opportunity_id == opportunity.id,
            Task.kind == kind,
            Task.status == TaskStatus.OPEN,
        )
    ).all():
        if task.key.rsplit(":", 1)[0] in site_ids:
            task.status = TaskStatus.CANCELLED if cancel else TaskStatus.DONE
            task.closed_at = ctx.clock()
            session.add(task)
            closed += 1
    return closed


@dataclass(frozen=True)
class ExceptionCount:
    """A bid's intake exceptions: resolved of all, and the open ones' texts."""

    resolved: int
    total: int
    open: tuple[Task, ...]


def exception_count(session: Session, opportunity: Opportunity) -> ExceptionCount:
    """Every intake exception of the bid (cancelled ones left out), in the order opened."""
    tasks = session.exec(
        select(Task)
        .where(Task.opportunity_id == opportunity.id, col(Task.kind).in_(EXCEPTION_KINDS))
        .where(Task.status != TaskStatus.CANCELLED)
        .order_by(col(Task.id))
    ).all()
    still = tuple(t for t in tasks if t.status == TaskStatus.OPEN)
    return ExceptionCount(len(tasks) - len(still), len(tasks), still)


def open_summary(count: ExceptionCount) -> str:
    """The first open exceptions, for a refusal or a criterion's detail."""
    shown = "; ".join(t.text for t in count.open[:OPEN_SHOWN])
    more = len(count.open) - OPEN_SHOWN
    return shown + (f" and {more:,} more" if more > 0 else "")
