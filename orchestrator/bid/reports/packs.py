"""The meeting packs' short summary, queued for Slack (the outbox) once per pack and period.

Who gets it: the pack's channel when rules/portfolio.yaml names one; else the attendees the
routing table names for the meeting (`weekly_update`, `qualification_meeting`: its lead and
who is told) among the teams of the bids in the pack, and the management when it attends.
"""

from __future__ import annotations

from sqlmodel import col, select

from orchestrator.bid.trail.recording import routing_for
from orchestrator.context import Context
from orchestrator.decisions.portfolio_rules import load_portfolio_rules
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import Grant, Person, TeamMember

MEETINGS = {"weekly_top_accounts": "weekly_update", "qualification": "qualification_meeting"}


def post_pack_summary(
    ctx: Context,
    *,
    kind: str,
    period: str,
    title: str,
    summary: str,
    location: str | None,
    opportunity_ids: list[int],
) -> list[str]:
    """Queue the summary; returns who it goes to (a channel, or e-mails). A pack made twice
    for the same period is announced once."""
    channel = load_portfolio_rules(ctx.settings.rules_dir).packs[kind].channel
    route = routing_for(ctx, "top", MEETINGS[kind])
    roles = {str(route["lead_role"]), *map(str, route.get("notify_roles", []))}
    text = ctx.messages.render(
        "pack_ready", title=title, period=period, summary=summary, location=location
    )
    with transaction(ctx.engine) as session:
        if channel:
            outbox.enqueue(
                session,
                key=f"pack:{kind}:{period}:#",
                event=f"pack_{kind}",
                text=text,
                channel=channel,
            )
            return [channel]
        emails = set(
            session.exec(
                select(Person.email)
                .where(TeamMember.person_id == Person.id)
                .where(col(TeamMember.opportunity_id).in_(opportunity_ids))
                .where(col(TeamMember.role).in_(sorted(roles)))
            ).all()
        )
        if Grant.MANAGEMENT in roles:
            emails |= {
                p.email for p in session.exec(select(Person)).all() if Grant.MANAGEMENT in p.roles
            }
        for email in sorted(emails):
            outbox.enqueue(
                session,
                key=f"pack:{kind}:{period}:{email}",
                event=f"pack_{kind}",
                text=text,
                recipient_email=email,
            )
        return sorted(emails)
