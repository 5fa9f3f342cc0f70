"""What waits for a person: the approvals they may decide now, and their open bids — what
the workspace's inbox and Slack's App Home list ("my approvals", "my bids").

Read-only. The approvals are those requested in the current round of a bid in an approval
state, in an area the person has the power to decide (an organisation grant, or a team role
an admin assigned: `bid.facts.decider_for`, as `may_decide` reads it).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from orchestrator.bid.approvals.governance import APPROVAL_STATES
from orchestrator.bid.facts import current_approvals, decider_for
from orchestrator.context import Context
from orchestrator.lifecycle.table import ENDS
from orchestrator.store.db import reading
from orchestrator.store.models import ApprovalStatus, Opportunity, Person, TeamMember


def pending_approvals(ctx: Context, person: Person) -> list[dict[str, Any]]:
    """The approvals waiting for this person: requested in the current round of a bid in an
    approval state, in an area the person has the power to decide (an organisation grant,
    or a team role an admin assigned — `bid.facts.decider_for`, as `may_decide` reads it)."""
    with reading(ctx.engine) as session:
        waiting = session.exec(
            select(Opportunity)
            .where(col(Opportunity.state).in_([s.value for s in APPROVAL_STATES]))
            .order_by(col(Opportunity.id))
        ).all()
        rows = []
        for opportunity in waiting:
            for approval in current_approvals(session, opportunity):
                if approval.status != ApprovalStatus.REQUESTED:
                    continue
                decider = decider_for(session, opportunity, person)
                powers = decider.grants | decider.team_roles
                if not set(approval.deciding_roles) & powers:
                    continue
                rows.append(
                    {
                        "ref": opportunity.ref,
                        "title": opportunity.title,
                        "area": approval.area,
                        "version": opportunity.proposal_hash or "",
                        "request_id": approval.id,
                        "fingerprint": approval.summary_fingerprint or "",
                        "requested_at": approval.requested_at.isoformat(timespec="minutes"),
                        "why": approval.reason or "",
                    }
                )
        return rows


def open_bids(ctx: Context, person: Person, limit: int = 20) -> list[dict[str, Any]]:
    """The person's open bids (on the team), soonest submission deadline first."""
    with reading(ctx.engine) as session:
        rows = session.exec(
            select(Opportunity)
            .where(
                col(Opportunity.id).in_(
                    select(TeamMember.opportunity_id).where(TeamMember.person_id == person.id)
                ),
                col(Opportunity.state).not_in([s.value for s in ENDS]),
            )
            .order_by(col(Opportunity.submission_deadline), col(Opportunity.id))
            .limit(limit)
        ).all()
        return [
            {
                "ref": o.ref,
                "title": o.title,
                "state": str(o.state),
                "submission_deadline": o.submission_deadline.isoformat(),
            }
            for o in rows
        ]
