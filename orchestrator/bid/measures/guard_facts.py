"""The facts the lifecycle's guards look at, read in one place (`load_facts`).

Above `bid.facts` (the plain readers) and `bid.exit_criteria` (bid production's exit
criteria, which price the deal): a guard of bid production needs both, and keeping them here
lets neither import the other.
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from orchestrator.bid.facts import account_of, current_approvals, team
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.context import Context
from orchestrator.lifecycle.guards import BidFacts
from orchestrator.lifecycle.table import State
from orchestrator.store.models import ApprovalStatus, Document, Milestone, Opportunity


def load_facts(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    reason: str | None = None,
    order_sheet_problems: tuple[str, ...] = (),
    production_open: tuple[str, ...] | None = None,
) -> BidFacts:
    """Everything the guards may look at, read in one place.

    In bid production its exit criteria are evaluated unless the caller just did
    (`production_open`)."""
    if opportunity.id is None:  # rows read from the database always have one
        raise ValueError("the opportunity is not stored")
    if production_open is None:
        production_open = ()
        if opportunity.state == State.BID_PRODUCTION:
            production_open = tuple(c.text for c in exit_check(session, ctx, opportunity).open)
    account = account_of(session, opportunity)
    approvals = [
        a
        for a in current_approvals(session, opportunity)
        if a.status not in (ApprovalStatus.INVALIDATED, ApprovalStatus.CANCELLED)
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
        strategy_reworked=opportunity.strategy_reworked,
        milestone_count=int(milestones),
        proposal_hash=opportunity.proposal_hash,
        required_areas=tuple(a.area for a in approvals),
        granted_areas=granted,
        submission_package_ready="submission_letter" in documents,
        order_sheet_ready="order_sheet" in documents,
        order_sheet_problems=order_sheet_problems,
        production_open=production_open,
        shortlisted=opportunity.shortlisted,
    )
