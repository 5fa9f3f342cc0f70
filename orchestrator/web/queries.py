"""What the workspace's pages read that `orchestrator.bid.reports.queries` does not give: the bid
list with its filters, the stage path with the owner per step, an approver's inbox, a bid's
files and the people to pick a team from. Read-only sessions only (`reading`); nothing here writes.

The role checks are the bid layer's own: `holds_any_role` for what a bid's team and the
organisation roles may see (files), `holds_role` with the governance decision's approver roles
for an approval (the very check `approve` makes before it records anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from orchestrator.bid.facts import (
    account_of,
    get_opportunity,
    team,
)
from orchestrator.bid.team.people import holds_any_role
from orchestrator.bid.trail.recording import routing_for
from orchestrator.context import Context
from orchestrator.errors import NotFound, NotPermitted
from orchestrator.lifecycle.table import ENDS, STEPS, State
from orchestrator.store.db import reading
from orchestrator.store.models import (
    Account,
    Document,
    Opportunity,
    Person,
    Role,
    TeamMember,
)

STEP_LABELS: dict[str, str] = {
    State.PRE_QUALIFICATION: "Pre-qualification",
    State.QUALIFICATION: "Qualification",
    State.KICK_OFF: "Kick-off",
    State.BID_PRODUCTION: "Bid production",
    State.GOVERNANCE_REVIEW: "Governance review",
    State.SUBMISSION: "Submission",
    State.CUSTOMER_DECISION: "Customer decision",
    State.CONTRACT_PREPARATION: "Contract preparation",
}
"""The eight steps as people say them."""


def list_rows(
    ctx: Context,
    person: Person,
    *,
    mine: bool = False,
    state: str | None = None,
    search: str = "",
) -> list[dict[str, Any]]:
    """The bids, newest first: all, or those where the person is on the team; in `state`;
    whose title, account or RFP reference contains `search` (any case)."""
    needle = search.strip().lower()
    with reading(ctx.engine) as session:
        statement = (
            select(Opportunity, Account)
            .where(Opportunity.account_id == Account.id)
            .order_by(col(Opportunity.id).desc())
        )
        if state:
            statement = statement.where(Opportunity.state == state)
        if mine:
            statement = statement.where(
                col(Opportunity.id).in_(
                    select(TeamMember.opportunity_id).where(TeamMember.person_id == person.id)
                )
            )
        managers: dict[int, str] = {}
        for opportunity_id, name in session.exec(
            select(TeamMember.opportunity_id, Person.name)
            .where(TeamMember.person_id == Person.id)
            .where(TeamMember.role == Role.BID_MANAGER)
        ).all():
            managers.setdefault(opportunity_id, name)
        rows = []
        for opportunity, account in session.exec(statement).all():
            if needle and not any(
                needle in (text or "").lower()
                for text in (opportunity.title, account.name, opportunity.rfp_reference)
            ):
                continue
            rows.append(
                {
                    "ref": opportunity.ref,
                    "title": opportunity.title,
                    "account": account.name,
                    "tier": account.tier,
                    "rfp_reference": opportunity.rfp_reference or "",
                    "state": str(opportunity.state),
                    "state_label": STEP_LABELS.get(opportunity.state, str(opportunity.state)),
                    "submission_deadline": opportunity.submission_deadline.isoformat(),
                    "bid_manager": managers.get(opportunity.id or 0, ""),
                }
            )
        return rows


@dataclass(frozen=True)
class Step:
    """One of the eight steps on a bid's stage path."""

    state: str
    label: str
    where: str  # "done", "current", "ahead" (or "closed" once the bid ended)
    owner: str


def stage_path(ctx: Context, ref: str) -> list[Step]:
    """The eight steps, where the bid stands on them, and who leads each (the routing table's
    lead role for the bid's tier, and the team members holding it)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        tier = account_of(session, opportunity).tier
        members = team(session, opportunity.id or 0)
        state = opportunity.state
        at = _position(state)
        steps = []
        for index, step in enumerate(STEPS):
            lead = str(routing_for(ctx, tier, step).get("lead_role", ""))
            names = ", ".join(p.name for role, p in members if role == lead) or "nobody assigned"
            if state in ENDS:
                where = "done" if index <= at else "closed"
            elif index < at:
                where = "done"
            elif index == at:
                where = "current"
            else:
                where = "ahead"
            steps.append(Step(step.value, STEP_LABELS[step], where, f"{lead}: {names}"))
        return steps


def _position(state: State) -> int:
    """Where a state sits on the eight steps (strategy rework is qualification's loop;
    an end sits after the step it closed)."""
    if state in STEPS:
        return STEPS.index(state)
    if state == State.STRATEGY_REWORK:
        return STEPS.index(State.QUALIFICATION)
    if state == State.NO_BID:
        return STEPS.index(State.QUALIFICATION)
    if state == State.LOST:
        return STEPS.index(State.CUSTOMER_DECISION)
    return len(STEPS) - 1  # contracted, withdrawn: the whole path is behind


def team_of(ctx: Context, ref: str) -> list[dict[str, str]]:
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return [
            {"role": role, "name": p.name, "email": p.email}
            for role, p in team(session, opportunity.id or 0)
        ]


def may_see_files(ctx: Context, ref: str, person: Person) -> bool:
    """A role on the bid's team, an organisation grant or admin: the CLI's check for changes,
    and the one the workspace asks before handing out a bid's documents."""
    with reading(ctx.engine) as session:
        return holds_any_role(session, get_opportunity(session, ref), person)


def bid_files(ctx: Context, ref: str) -> dict[str, Path]:
    """The bid's rendered documents that lie in its own output folder, by file name (the
    newest of a name wins). Paths outside the folder, or gone from disk, are left out."""
    folder = ctx.output_dir_for(ref).resolve()
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        paths = session.exec(
            select(Document.path)
            .where(Document.opportunity_id == opportunity.id)
            .order_by(col(Document.id))
        ).all()
    files: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_file() and path.is_relative_to(folder):
            files[path.name] = path
    return dict(sorted(files.items()))


def bid_file(ctx: Context, ref: str, name: str, person: Person) -> Path:
    """One of the bid's files by name, after the role check."""
    if not may_see_files(ctx, ref, person):
        raise NotPermitted(f"{person.email} holds no role on {ref}; its documents are its team's")
    found = bid_files(ctx, ref).get(name)
    if found is None:
        raise NotFound(f"{ref} has no document named {name[:80]!r}")
    return found


def inbox(ctx: Context, person: Person) -> list[dict[str, Any]]:
    """The approvals waiting for this person (`orchestrator.bid.reports.inbox`, which Slack's App
    Home lists too)."""
    from orchestrator.bid.reports.inbox import pending_approvals

    return pending_approvals(ctx, person)


def may_decide(ctx: Context, ref: str, area: str, person: Person) -> bool:
    """The approval of `area` on the bid is pending and in this person's inbox."""
    return any(row["ref"] == ref and row["area"] == area for row in inbox_of_bid(ctx, ref, person))


def inbox_of_bid(ctx: Context, ref: str, person: Person) -> list[dict[str, Any]]:
    with reading(ctx.engine) as session:
        canonical = get_opportunity(session, ref).ref
    return [row for row in inbox(ctx, person) if row["ref"] == canonical]


def people_to_pick(ctx: Context) -> list[dict[str, str]]:
    """Everyone known, for the team's pickers (e-mail and name)."""
    with reading(ctx.engine) as session:
        return [
            {"email": p.email, "name": p.name}
            for p in session.exec(select(Person).order_by(col(Person.name))).all()
        ]


def team_roles_of(ctx: Context, ref: str, person: Person) -> set[str]:
    """The roles the person holds on the bid's team (what "mine" means on its pages)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        return {role for role, p in team(session, opportunity.id or 0) if p.id == person.id}


def library_entries(ctx: Context, ids: set[str]) -> dict[str, dict[str, str]]:
    """The answer-library entries named, by id: their text and compliance (the suggestion a
    person edits before accepting it)."""
    from orchestrator.store.models import LibraryAnswer

    if not ids:
        return {}
    with reading(ctx.engine) as session:
        rows = session.exec(select(LibraryAnswer).where(col(LibraryAnswer.answer_id).in_(ids)))
        return {
            row.answer_id: {"answer": row.answer, "compliance": str(row.compliance)}
            for row in rows.all()
        }


def quote_requests(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """The bid's QRFs (the current ones, not superseded), per country and provider, with
    their reply-by date and status: answered, overdue (reply-by passed) or waiting."""
    from orchestrator.store.models import QuoteRequest

    today = ctx.clock().date()
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = session.exec(
            select(QuoteRequest)
            .where(QuoteRequest.opportunity_id == opportunity.id, ~col(QuoteRequest.superseded))
            .order_by(col(QuoteRequest.country), col(QuoteRequest.provider))
        ).all()
    found = []
    for row in rows:
        if row.answered_at is not None:
            status = "answered"
        elif row.reply_by < today:
            status = "overdue"
        else:
            status = "waiting"
        found.append(
            {
                "name": row.name,
                "country": row.country,
                "provider": row.provider,
                "reply_by": row.reply_by.isoformat(),
                "status": status,
                "firm_sites": len(row.firm_site_ids),
                "budgetary_sites": len(row.budgetary_site_ids),
                "answered_at": row.answered_at.isoformat(timespec="minutes")
                if row.answered_at
                else "",
            }
        )
    return found


def quote_imports(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """The quote files imported into the bid, newest first."""
    from orchestrator.store.models import QuoteImport

    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = session.exec(
            select(QuoteImport)
            .where(QuoteImport.opportunity_id == opportunity.id)
            .order_by(col(QuoteImport.id).desc())
        ).all()
        return [
            {
                "file": row.file_name,
                "rows": row.rows,
                "actor": row.actor,
                "at": row.imported_at.isoformat(timespec="minutes"),
            }
            for row in rows
        ]


def intake_exceptions(ctx: Context, ref: str) -> list[dict[str, Any]]:
    """The bid's intake exceptions still waiting for a person, in the order opened: a quote
    far from the list price (`quote_outlier`: use it or ask again) or a site whose ask its
    access cannot carry (`site_exception`: propose another access) — the open tasks
    `bid.measures.intake_tasks` keeps, each with its site and what the finding said."""
    from orchestrator.bid.measures.intake_tasks import EXCEPTION_KINDS
    from orchestrator.store.models import Task, TaskStatus

    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        tasks = session.exec(
            select(Task)
            .where(
                Task.opportunity_id == opportunity.id,
                col(Task.kind).in_(EXCEPTION_KINDS),
                Task.status == TaskStatus.OPEN,
            )
            .order_by(col(Task.id))
        ).all()
        return [
            {
                "kind": task.kind,
                "site": task.key.rsplit(":", 1)[0],
                "text": task.text,
                "owner_role": task.owner_role,
            }
            for task in tasks
        ]
