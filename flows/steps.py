"""One flow per lifecycle step's automated work, and `bid_lifecycle`, which chains them.

Each step flow checks that the bid is at its step and calls `services.advance`; the run is
named after the bid and the step and tagged `opp:`, `account:` and `step:` so the Prefect UI
filters them. `bid_lifecycle` carries a bid as far as it goes without a person and stops:
a bid waiting for a go/no-go or an approval holds no process.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow
from prefect.context import TagsContext

from flows.context import BidLabels, bid_labels, current
from flows.hooks import on_run_failed, tag_current_run
from orchestrator.bid.progress import services
from orchestrator.bid.progress.services import StepResult
from orchestrator.dispatch import RENDERS_ONLY, drain
from orchestrator.lifecycle.table import ENDS, State

STEP_OF_STATE: dict[State, str] = {
    State.PRE_QUALIFICATION: "qualification",
    State.QUALIFICATION: "qualification",
    State.STRATEGY_REWORK: "qualification",
    State.KICK_OFF: "kick_off",
    State.BID_PRODUCTION: "bid_production",
    State.GOVERNANCE_REVIEW: "governance",
    State.SUBMISSION: "submission",
    State.CUSTOMER_DECISION: "customer_decision",
    State.CONTRACT_PREPARATION: "contract_preparation",
}
"""Which step's flow does a state's automated work."""

_FLOW_OPTIONS: dict[str, Any] = {
    "persist_result": False,
    "log_prints": False,
    "on_failure": [on_run_failed],
    "on_crashed": [on_run_failed],
}


def step_of(state: State) -> str:
    return STEP_OF_STATE.get(state, "closed")


def _run_step(step: str, ref: str, actor: str) -> StepResult:
    ctx = current()
    labels = bid_labels(ctx, ref)
    tag_current_run(labels.tags(step))
    if labels.state not in ENDS and step_of(labels.state) != step:
        return StepResult(
            labels.ref,
            labels.state,
            labels.state,
            f"{labels.ref} is in {labels.state.value}, not at step {step}; nothing done",
        )
    from flows.deadline_watch import PublishingCarrier

    try:
        return services.advance(ctx, labels.ref, actor)
    finally:  # the move's documents, and its Bid Control Plan in the UI (refused or not:
        # the door that handed the bid over left its renders to this run)
        drain(ctx, PublishingCarrier(), ref=labels.ref, kinds=RENDERS_ONLY, notify=False)


@flow(name="qualification-evaluation", flow_run_name="{ref} · qualification", **_FLOW_OPTIONS)
def qualification_evaluation(ref: str, actor: str = "prefect") -> StepResult:
    """BANTS scoring, then the go/no-go recommendation; stops for the deciders."""
    return _run_step("qualification", ref, actor)


@flow(name="kick-off-planning", flow_run_name="{ref} · kick_off", **_FLOW_OPTIONS)
def kick_off_planning(ref: str, actor: str = "prefect") -> StepResult:
    """The Bid Control Plan's milestones; the bid team check; start of production.

    The plan is published as the bid's `bid-control-plan-<id>` artifact once it is made.
    """
    from flows.deadline_watch import publish_control_plan

    result = _run_step("kick_off", ref, actor)
    if result.moved:
        publish_control_plan(result.ref)
    return result


@flow(name="bid-production", flow_run_name="{ref} · bid_production", **_FLOW_OPTIONS)
def bid_production(ref: str, actor: str = "prefect") -> StepResult:
    """QRFs per country and provider, the proposal, the plan; then the governance request."""
    return _run_step("bid_production", ref, actor)


@flow(name="governance-request", flow_run_name="{ref} · governance", **_FLOW_OPTIONS)
def governance_request(ref: str, actor: str = "prefect") -> StepResult:
    """Checks the requested approvals; moves on to submission once all are granted."""
    return _run_step("governance", ref, actor)


@flow(name="submission-package", flow_run_name="{ref} · submission", **_FLOW_OPTIONS)
def submission_package(ref: str, actor: str = "prefect") -> StepResult:
    """Nothing to automate: the approved offer waits for a person to send it (`bid submit`
    renders the package and records how, when and by whom it went out)."""
    return _run_step("submission", ref, actor)


@flow(name="customer-decision", flow_run_name="{ref} · customer_decision", **_FLOW_OPTIONS)
def customer_decision(ref: str, actor: str = "prefect") -> StepResult:
    """Nothing to automate: says the bid waits for the customer's verdict."""
    return _run_step("customer_decision", ref, actor)


@flow(name="contract-preparation", flow_run_name="{ref} · contract_preparation", **_FLOW_OPTIONS)
def contract_preparation(ref: str, actor: str = "prefect") -> StepResult:
    """The clean order sheet after a win; the contract is signed when it has no problems."""
    return _run_step("contract_preparation", ref, actor)


STEP_FLOWS: dict[str, Flow[..., StepResult]] = {
    "qualification": qualification_evaluation,
    "kick_off": kick_off_planning,
    "bid_production": bid_production,
    "governance": governance_request,
    "submission": submission_package,
    "customer_decision": customer_decision,
    "contract_preparation": contract_preparation,
}


def run_step(labels: BidLabels, actor: str) -> StepResult:
    """Run the flow of the bid's current step, tagged; a closed bid runs no flow."""
    if labels.state in ENDS:
        return services.advance(current(), labels.ref, actor)
    step = step_of(labels.state)
    # Exactly the bid's tags: a step run inside `bid-lifecycle` is not tagged step:lifecycle.
    with TagsContext(current_tags=set(labels.tags(step))):
        return STEP_FLOWS[step](ref=labels.ref, actor=actor)


@flow(name="bid-lifecycle", flow_run_name="{ref} · lifecycle", **_FLOW_OPTIONS)
def bid_lifecycle(ref: str, actor: str = "prefect", limit: int = 20) -> list[StepResult]:
    """Carry the bid step after step until it waits for a person, closes, or a guard refuses.

    Each step is its own (sub)flow run. A refusal after at least one step ends the run
    quietly (the step's run shows it); a refusal at the first step fails the run.
    """
    ctx = current()
    labels = bid_labels(ctx, ref)
    tag_current_run(labels.tags("lifecycle"))
    return services.run_until_waiting(lambda: run_step(bid_labels(ctx, ref), actor), limit)
