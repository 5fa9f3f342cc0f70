"""Sending the quote requests: QRFs written and recorded, each with its reply-by milestone.

`bid qrf` writes one QRF per country and provider (and an internal quote task per in-house
country) and records each as a `QuoteRequest` with its reply-by date; the reply-by date is a
Bid Control Plan milestone the deadline watch chases, done once every site of the request
holds the quote asked for. Sites nobody quotes (no provider, no fallback partner) are listed.
Sending the files to the carriers stays a person's job. A bid put on hold or withdrawn
cancels its open requests (`cancel_requests`): each carrier's contact gets one message
through the outbox, and `bid qrf status` lists them as cancelled, with when and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.facts import account_of, get_opportunity, team
from orchestrator.bid.measures import planning
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, record_documents, refusals_kept, routing_for
from orchestrator.commercial.qrf import (
    Amendment,
    QrfLine,
    QrfPlan,
    plan_for,
    reply_by_date,
    request_hash,
    split_requested,
)
from orchestrator.commercial.quotes import QuoteFacts, catalogue_for
from orchestrator.context import Context
from orchestrator.decisions.catalogue import IN_HOUSE_PROVIDER, Catalogue
from orchestrator.lifecycle.table import State
from orchestrator.ports import ProducedDocuments
from orchestrator.store import outbox
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import (
    Milestone,
    MilestoneStatus,
    Opportunity,
    QuoteKind,
    QuoteRequest,
)

REPLY_STAGE = "quote_request"


@dataclass(frozen=True)
class RequestLine:
    """One QRF or internal task as `bid qrf` reports it."""

    name: str
    country: str
    provider: str
    sites: int
    firm: int
    reply_by: date
    fallback: bool = False
    amends: str | None = None
    """For an amendment: the request it amends (only the changed and new sites are asked)."""
    withdrawn: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "provider": self.provider,
            "sites": self.sites,
            "firm": self.firm,
            "budgetary": self.sites - self.firm,
            "reply_by": self.reply_by.isoformat(),
            "fallback": self.fallback,
            "amends": self.amends,
            "withdrawn": list(self.withdrawn),
        }


@dataclass(frozen=True)
class QrfResult:
    """What `bid qrf` did: the files, the requests recorded, and the sites nobody quotes."""

    ref: str
    produced: ProducedDocuments
    requests: tuple[RequestLine, ...]
    recorded: int
    unsourced: tuple[tuple[str, str, str], ...]
    """(site id, country, access) of each site no provider and no fallback serves."""
    fallback_configured: bool

    @property
    def unsourced_countries(self) -> dict[str, int]:
        return dict(sorted(Counter(country for _, country, _ in self.unsourced).items()))

    def per_country(self) -> list[dict[str, Any]]:
        """One row per country: who is asked for how many sites, and the unsourced ones."""
        rows: dict[str, dict[str, Any]] = {}
        for request in self.requests:
            row = rows.setdefault(
                request.country,
                {"country": request.country, "sites": 0, "requests": [], "unsourced": 0},
            )
            row["sites"] += request.sites
            row["requests"].append(f"{request.provider} ({request.sites})")
        for _, country, _ in self.unsourced:
            row = rows.setdefault(
                country, {"country": country, "sites": 0, "requests": [], "unsourced": 0}
            )
            row["sites"] += 1
            row["unsourced"] += 1
        return [rows[country] for country in sorted(rows)]

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity": self.ref,
            "requests": [r.to_json() for r in self.requests],
            "recorded": self.recorded,
            "per_country": self.per_country(),
            "unsourced": [{"site_id": s, "country": c, "access": a} for s, c, a in self.unsourced],
            "fallback_configured": self.fallback_configured,
        }


def _groups(
    plan: QrfPlan, catalogue: Catalogue, today: date
) -> list[tuple[str, str, str, tuple[QrfLine, ...], date, bool, Amendment | None]]:
    """(name, country, provider, lines, reply-by, fallback, amendment) of every request."""
    groups = [
        (
            g.name,
            g.country,
            g.provider.id,
            g.lines,
            reply_by_date(today, g.provider.lead_time_days, g.country),
            g.provider.fallback,
            g.amendment,
        )
        for g in plan.groups
    ]
    lead = catalogue.providers.in_house.lead_time_days
    groups += [
        (
            t.name,
            t.country,
            IN_HOUSE_PROVIDER,
            t.lines,
            reply_by_date(today, lead, t.country),
            False,
            None,
        )
        for t in plan.in_house
    ]
    return groups


def reply_milestones(ctx: Context, request_names: list[str]) -> list[str]:
    """The Bid Control Plan milestones of these requests (rules/milestones.yaml)."""
    rules, _ = planning.load_milestone_rules(ctx.settings.rules_dir)
    stage = [rule.name for rule in rules if rule.planned_at == REPLY_STAGE]
    return [f"{rule}_{name}" for name in request_names for rule in stage]


def _plan_reply(
    session: Session, ctx: Context, opportunity: Opportunity, name: str, reply_by: date
) -> None:
    """The request's reply-by as a milestone (moved and reopened when the request is re-sent)."""
    rules, _ = planning.load_milestone_rules(ctx.settings.rules_dir)
    anchor = datetime.combine(reply_by, time(17, 0), tzinfo=UTC)
    team_roles = {role for role, _ in team(session, opportunity.id or 0)}
    tier = account_of(session, opportunity).tier
    for item in planning.plan(
        rules,
        REPLY_STAGE,
        submission_deadline=opportunity.submission_deadline,
        anchor_time=anchor,
        country=planning.home_country(ctx),
    ):
        milestone_name = f"{item.name}_{name}"
        owner = item.owner_role
        if owner not in team_roles:  # nobody holds it on this bid: the bid's lead chases
            owner = str(routing_for(ctx, tier, State.KICK_OFF)["lead_role"])
        row = session.exec(
            select(Milestone).where(
                Milestone.opportunity_id == opportunity.id, Milestone.name == milestone_name
            )
        ).first()
        if row is None:
            row = Milestone(
                opportunity_id=opportunity.id or 0,
                name=milestone_name,
                due_at=item.due_at,
                owner_role=owner,
            )
        row.due_at, row.status, row.completed_at = item.due_at, MilestoneStatus.OPEN, None
        session.add(row)


def record_requests(
    session: Session, ctx: Context, opportunity: Opportunity, plan: QrfPlan, actor: str
) -> tuple[list[RequestLine], int]:
    """Record each request of the plan once (a re-run with the same sites records nothing;
    a changed request supersedes the earlier one and moves its reply-by)."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    today = ctx.clock().date()
    rows = session.exec(
        select(QuoteRequest).where(QuoteRequest.opportunity_id == opportunity.id)
    ).all()
    existing = [r for r in rows if r.cancelled_at is None]
    held = {(r.name, r.content_hash): r for r in existing}
    cancelled = {(r.name, r.content_hash): r for r in rows if r.cancelled_at is not None}
    lines: list[RequestLine] = []
    recorded = 0
    for name, country, provider, group, reply_by, fallback, amendment in _groups(
        plan, catalogue, today
    ):
        budgetary, firm = split_requested(group)
        digest = request_hash(budgetary, firm)
        same = held.get((name, digest))
        amends = amendment.amends if amendment else None
        withdrawn = amendment.withdrawn if amendment else ()
        if same is not None:
            lines.append(
                RequestLine(
                    name,
                    country,
                    provider,
                    len(group),
                    len(firm),
                    same.reply_by,
                    fallback,
                    amends,
                    withdrawn,
                )
            )
            continue
        for row in existing:
            if row.name == name and not row.superseded:
                row.superseded = True
                session.add(row)
        revived = cancelled.get((name, digest))
        if revived is not None:  # the same request sent again after a hold: it stands again
            revived.cancelled_at = revived.cancel_reason = None
            revived.superseded, revived.answered_at = False, None
            revived.reply_by, revived.recorded_at = reply_by, ctx.clock()
            session.add(revived)
        else:
            session.add(
                QuoteRequest(
                    opportunity_id=opportunity.id or 0,
                    name=name,
                    country=country,
                    provider=provider,
                    budgetary_site_ids=budgetary,
                    firm_site_ids=firm,
                    reply_by=reply_by,
                    content_hash=digest,
                    recorded_at=ctx.clock(),
                    amends=amends,
                    withdrawn_site_ids=list(withdrawn),
                )
            )
        _plan_reply(session, ctx, opportunity, name, reply_by)
        recorded += 1
        lines.append(
            RequestLine(
                name,
                country,
                provider,
                len(group),
                len(firm),
                reply_by,
                fallback,
                amends,
                withdrawn,
            )
        )
    if recorded:
        audit(
            session,
            ctx,
            opportunity,
            "quote_requests_recorded",
            actor=actor,
            inputs={"recorded": recorded, "unsourced": len(plan.unserved)},
        )
    return lines, recorded


def send_quote_requests(
    ctx: Context, ref: str, out_dir: Path | None = None, *, actor: str = "cli"
) -> QrfResult:
    """Write the QRFs (outside any write transaction), then record them and their reply-by
    milestones in one short transaction."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        canonical = opportunity.ref
        folder = out_dir or ctx.output_dir_for(canonical)
        produced = ctx.documents.quote_requests(session, opportunity, folder)
        plan = plan_for(session, opportunity.id or 0, catalogue)
    if out_dir is None:  # the bid's own folder is published (an object store, when set)
        produced = ctx.store.publish(canonical, produced)
    with refusals_kept(ctx, ref, "qrf", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        record_documents(session, opportunity, produced)
        requests, recorded = record_requests(session, ctx, opportunity, plan, actor)
    return QrfResult(
        ref=opportunity.ref,
        produced=produced,
        requests=tuple(requests),
        recorded=recorded,
        unsourced=tuple((line.site_id, line.country, line.access) for line in plan.unserved),
        fallback_configured=catalogue.providers.fallback is not None,
    )


def answer_requests(
    session: Session, ctx: Context, opportunity: Opportunity, quotes: dict[str, QuoteFacts]
) -> list[str]:
    """Requests whose every site now holds the quote asked for are answered; their reply-by
    milestones are done. Returns the names answered."""
    today = ctx.clock().date()
    open_requests = session.exec(
        select(QuoteRequest).where(
            QuoteRequest.opportunity_id == opportunity.id,
            QuoteRequest.superseded == False,  # noqa: E712
            col(QuoteRequest.answered_at).is_(None),
        )
    ).all()
    answered: list[str] = []
    for request in open_requests:

        def has(site_id: str, firm: bool) -> bool:
            quote = quotes.get(site_id)
            if quote is None or quote.valid_until < today:
                return False
            return quote.kind == QuoteKind.FIRM or not firm

        if all(has(s, False) for s in request.budgetary_site_ids) and all(
            has(s, True) for s in request.firm_site_ids
        ):
            request.answered_at = ctx.clock()
            session.add(request)
            answered.append(request.name)
    if answered:
        names = reply_milestones(ctx, answered)
        for milestone in session.exec(
            select(Milestone).where(
                Milestone.opportunity_id == opportunity.id, col(Milestone.name).in_(names)
            )
        ).all():
            milestone.status, milestone.completed_at = MilestoneStatus.DONE, ctx.clock()
            session.add(milestone)
    return answered


QRF_CANCELLED = "qrf_cancelled"


def cancel_requests(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    reason: str,
    *,
    held_until: date | None = None,
    held: bool = False,
) -> list[str]:
    """Cancel the bid's open quote requests (not superseded, answered or cancelled) in the
    caller's transaction, and queue one message per request to the carrier's contact (the
    in-house team for an internal task), keyed by the request: a rerun sends nothing twice.
    Returns the names cancelled."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    account = account_of(session, opportunity)
    rows = session.exec(
        select(QuoteRequest)
        .where(QuoteRequest.opportunity_id == opportunity.id)
        .where(QuoteRequest.superseded == False)  # noqa: E712
        .where(col(QuoteRequest.answered_at).is_(None))
        .where(col(QuoteRequest.cancelled_at).is_(None))
        .order_by(col(QuoteRequest.id))
    ).all()
    now = ctx.clock()
    cancelled: list[str] = []
    for request in rows:
        request.cancelled_at, request.cancel_reason = now, reason
        session.add(request)
        provider = catalogue.providers.by_id(request.provider)
        if provider is not None:
            name, email = provider.name, provider.contact_email
        else:
            name, email = catalogue.providers.in_house.team, catalogue.providers.in_house.email
        text = ctx.messages.render(
            QRF_CANCELLED,
            provider=name,
            request=request.name,
            customer=account.name,
            ref=opportunity.ref,
            sites=len(request.budgetary_site_ids) + len(request.firm_site_ids),
            country=request.country,
            reason=reason,
            held=held,
            until=held_until.isoformat() if held_until else None,
        )
        outbox.enqueue(
            session,
            key=f"{QRF_CANCELLED}:{request.id}",
            event=QRF_CANCELLED,
            text=text,
            opportunity_id=opportunity.id,
            recipient_email=email,
        )
        cancelled.append(request.name)
    names = reply_milestones(ctx, cancelled)
    if names:
        for milestone in session.exec(
            select(Milestone).where(
                Milestone.opportunity_id == opportunity.id, col(Milestone.name).in_(names)
            )
        ).all():
            milestone.status = MilestoneStatus.CLOSED
            session.add(milestone)
    if cancelled:
        audit(
            session,
            ctx,
            opportunity,
            "quote_requests_cancelled",
            actor="rules",
            reason=reason,
            inputs={"requests": cancelled},
        )
    return cancelled


@dataclass(frozen=True)
class RequestStatus:
    """One recorded quote request as `bid qrf status` shows it."""

    name: str
    country: str
    provider: str
    sites: int
    reply_by: date
    status: str
    """open, answered, superseded or cancelled."""
    recorded_at: datetime
    amends: str | None = None
    withdrawn: tuple[str, ...] = ()
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "provider": self.provider,
            "sites": self.sites,
            "reply_by": self.reply_by.isoformat(),
            "status": self.status,
            "recorded_at": self.recorded_at.isoformat(),
            "amends": self.amends,
            "withdrawn": list(self.withdrawn),
            "cancelled_at": self.cancelled_at.isoformat() if self.cancelled_at else None,
            "cancel_reason": self.cancel_reason,
        }


def request_status(ctx: Context, ref: str) -> list[RequestStatus]:
    """Every quote request recorded for the bid, oldest first, with its status (read-only)."""
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        rows = session.exec(
            select(QuoteRequest)
            .where(QuoteRequest.opportunity_id == opportunity.id)
            .order_by(col(QuoteRequest.id))
        ).all()
        result = []
        for row in rows:
            if row.cancelled_at is not None:
                status = "cancelled"
            elif row.superseded:
                status = "superseded"
            elif row.answered_at is not None:
                status = "answered"
            else:
                status = "open"
            result.append(
                RequestStatus(
                    name=row.name,
                    country=row.country,
                    provider=row.provider,
                    sites=len(row.budgetary_site_ids) + len(row.firm_site_ids),
                    reply_by=row.reply_by,
                    status=status,
                    recorded_at=row.recorded_at,
                    amends=row.amends,
                    withdrawn=tuple(row.withdrawn_site_ids),
                    cancelled_at=row.cancelled_at,
                    cancel_reason=row.cancel_reason,
                )
            )
        return result
