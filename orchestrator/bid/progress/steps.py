"""What `advance` does in each state: one row per state, the way the lifecycle is one table.

A row names the documents rendered before the step (outside any write transaction) and the
work done inside the step's transaction. The work either says the bid waits (a `StepResult`
that does not move it) or hands `advance` the inputs of the automatic transition. What
happens on *entering* a state (asking for the go/no-go, requesting the approvals) is in
`ON_ENTRY`, so it runs whichever door moved the bid there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from orchestrator.bid.approvals.governance import request_governance
from orchestrator.bid.contracting.contracts import record_contract
from orchestrator.bid.facts import StepResult
from orchestrator.bid.measures.exit_criteria import ExitCheck, exit_check
from orchestrator.bid.measures.guard_facts import load_facts
from orchestrator.bid.opportunity.qualification import await_go_no_go, bants_decision
from orchestrator.bid.trail.recording import complete_milestones, plan_milestones, record_decision
from orchestrator.bid.trail.tasks import ORDER_MANAGER, headline, order_sheet_tasks
from orchestrator.bid.trail.versions import record_version
from orchestrator.context import Context
from orchestrator.lifecycle.guards import bants_complete, changes_approved
from orchestrator.lifecycle.table import WAITING_FOR, State
from orchestrator.ports import ProducedDocuments
from orchestrator.store.models import Opportunity


class Render(StrEnum):
    """Which of the document port's sets a step renders before its transaction."""

    BID = "bid_documents"
    SUBMISSION = "submission_package"
    ORDER = "order_sheet"


@dataclass(frozen=True)
class MoveOn:
    """The step's work is done: fire the automatic transition with these audit inputs."""

    inputs: dict[str, Any] = field(default_factory=dict)
    production_open: tuple[str, ...] | None = None
    """Bid production's open exit criteria, when the work just evaluated them."""


Work = Callable[[Session, Context, Opportunity, ProducedDocuments], "StepResult | MoveOn"]
Ready = Callable[[Session, Context, Opportunity], "StepResult | None"]


@dataclass(frozen=True)
class Step:
    work: Work
    renders: Render | None = None
    ready: Ready | None = None
    """Checked in a read-only session before rendering: a StepResult means the bid waits
    (nothing is rendered nor written)."""


def _waiting(opportunity: Opportunity, message: str) -> StepResult:
    state = opportunity.state
    return StepResult(opportunity.ref, state, state, message, WAITING_FOR.get(state))


def _pre_qualification(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> MoveOn:
    """BANTS scored (when complete) and the intake milestones planned; the guard decides."""
    if not bants_complete(load_facts(session, ctx, opportunity)).ok:
        return MoveOn()
    decision = bants_decision(ctx, session, opportunity)
    record_decision(session, opportunity, decision)
    plan_milestones(session, ctx, opportunity, "intake", opportunity.received_at)
    return MoveOn({"bants": decision.outputs})


def _qualification(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> StepResult:
    return await_go_no_go(session, ctx, opportunity)


def _strategy_rework(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> MoveOn:
    return MoveOn()


def _kick_off(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> MoveOn:
    plan_milestones(session, ctx, opportunity, "kick_off", ctx.clock())
    return MoveOn()


def _production_waits(opportunity: Opportunity, check: ExitCheck) -> StepResult:
    return _waiting(opportunity, f"bid production waits: {check.summary}")


def _production_ready(
    session: Session, ctx: Context, opportunity: Opportunity
) -> StepResult | None:
    """Bid production waits (and renders nothing) while an exit criterion is open."""
    check = exit_check(session, ctx, opportunity)
    return _production_waits(opportunity, check) if check.open else None


def _bid_production(
    session: Session, ctx: Context, opportunity: Opportunity, produced: ProducedDocuments
) -> StepResult | MoveOn:
    """Every exit criterion holds (checked again in the transaction): the proposal version
    is set, the check recorded as a decision, and the governance review may start."""
    check = exit_check(session, ctx, opportunity)
    if check.open:  # something changed since the check before rendering
        return _production_waits(opportunity, check)
    opportunity.proposal_hash = produced.proposal_hash
    version = record_version(
        session,
        ctx,
        opportunity,
        reason="governance",
        actor="rules",
        deal=check.deal,
        proposal_hash=produced.proposal_hash,
    )
    record_decision(session, opportunity, check.decision(ctx.clock()))
    complete_milestones(session, ctx, opportunity, ["design_freeze"])
    return MoveOn(
        {
            "proposal_hash": produced.proposal_hash,
            "design_version": opportunity.design_version,
            "version": version.number,
        },
        production_open=(),
    )


def _governance_review(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> StepResult | MoveOn:
    facts = load_facts(session, ctx, opportunity)
    missing = sorted(set(facts.required_areas) - facts.granted_areas)
    if missing or not facts.required_areas:
        return _waiting(
            opportunity, f"waiting for approvals: {', '.join(missing) or 'none requested'}"
        )
    complete_milestones(session, ctx, opportunity, ["governance_approvals"])
    return MoveOn()


def _submission(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> StepResult:
    """Every approval is given: the offer waits for a person to send it. `bid submit`
    renders the submission package, records how, when and by whom it went out
    (`bid.submission`) and marks its version submitted."""
    return _waiting(
        opportunity,
        f"approved: the offer waits to go out (bid submit {opportunity.ref} --by EMAIL "
        "--channel portal|email|hand --reference TEXT)",
    )


def _customer_decision(
    session: Session, ctx: Context, opportunity: Opportunity, _: ProducedDocuments
) -> StepResult:
    return _waiting(opportunity, "waiting for the customer")


def _contract_preparation(
    session: Session, ctx: Context, opportunity: Opportunity, produced: ProducedDocuments
) -> StepResult | MoveOn:
    """A won bid always moves on: the order sheet's problems become tasks for the order
    manager and the bid waits for their fixes (never a refusal); so does a price change made
    after the win until finance approves it. Then the contract is signed."""
    tasks = order_sheet_tasks(session, ctx, opportunity, list(produced.problems), "rules")
    if tasks:
        shown = "; ".join(headline(task.text) for task in tasks[:3])
        more = f" and {len(tasks) - 3} more" if len(tasks) > 3 else ""
        return _waiting(
            opportunity,
            f"signing waits for {len(tasks)} order-sheet fix(es) ({ORDER_MANAGER}): {shown}{more}",
        )
    waiting = changes_approved(load_facts(session, ctx, opportunity))
    if not waiting.ok:
        return _waiting(opportunity, waiting.reason)
    return MoveOn()


STEP_WORK: dict[State, Step] = {
    State.PRE_QUALIFICATION: Step(_pre_qualification),
    State.QUALIFICATION: Step(_qualification),
    State.STRATEGY_REWORK: Step(_strategy_rework),
    State.KICK_OFF: Step(_kick_off),
    State.BID_PRODUCTION: Step(_bid_production, Render.BID, _production_ready),
    State.GOVERNANCE_REVIEW: Step(_governance_review),
    State.SUBMISSION: Step(_submission),
    State.CUSTOMER_DECISION: Step(_customer_decision),
    State.CONTRACT_PREPARATION: Step(_contract_preparation, Render.ORDER),
}
"""The automated work of every open state (a test checks that none is missing)."""


def _enter_qualification(
    session: Session, ctx: Context, opportunity: Opportunity, actor: str
) -> None:
    await_go_no_go(session, ctx, opportunity)


def _enter_governance(session: Session, ctx: Context, opportunity: Opportunity, actor: str) -> None:
    request_governance(session, ctx, opportunity, actor)


def _enter_contracted(session: Session, ctx: Context, opportunity: Opportunity, actor: str) -> None:
    record_contract(session, ctx, opportunity, actor)


ON_ENTRY: dict[State, Callable[[Session, Context, Opportunity, str], None]] = {
    State.QUALIFICATION: _enter_qualification,
    State.GOVERNANCE_REVIEW: _enter_governance,
    State.CONTRACTED: _enter_contracted,
}
"""What `advance` does on entering a state, in the same transaction as the move."""
