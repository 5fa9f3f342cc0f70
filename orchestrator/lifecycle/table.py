"""The bid lifecycle at a glance: the states and ONE table of transitions.

The eight steps come from the source study (pre-qualification up to and including contract
preparation); `strategy_rework` is where a *redefine strategy* outcome loops back to, and
the four ends close a bid. The table is data: `machine.py` hands it to `transitions`, the
Mermaid diagram in docs/lifecycle.md is generated from it, and a test asserts it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.store.models import State as State  # the states live with the record

STEPS: tuple[State, ...] = (
    State.PRE_QUALIFICATION,
    State.QUALIFICATION,
    State.KICK_OFF,
    State.BID_PRODUCTION,
    State.GOVERNANCE_REVIEW,
    State.SUBMISSION,
    State.CUSTOMER_DECISION,
    State.CONTRACT_PREPARATION,
)
"""The eight steps in order."""

ENDS: frozenset[State] = frozenset({State.NO_BID, State.LOST, State.CONTRACTED, State.WITHDRAWN})
OPEN_STATES: tuple[State, ...] = tuple(s for s in State if s not in ENDS)
WON_STATES: frozenset[State] = frozenset({State.CONTRACT_PREPARATION, State.CONTRACTED})
"""The customer accepted: contract preparation, then contracted."""


@dataclass(frozen=True)
class Transition:
    """One move of the lifecycle: a named trigger, its source(s), destination and guards."""

    trigger: str
    source: State
    dest: State
    guards: tuple[str, ...] = ()
    automatic: bool = False
    """True when `advance` may fire it without a human decision."""


def _withdrawals() -> list[Transition]:
    return [
        Transition("withdraw", state, State.WITHDRAWN, ("reason_given",)) for state in OPEN_STATES
    ]


TRANSITIONS: tuple[Transition, ...] = (
    Transition("qualify", State.PRE_QUALIFICATION, State.QUALIFICATION, ("bants_complete",), True),
    Transition("decide_bid", State.QUALIFICATION, State.KICK_OFF, ("deadline_not_passed",)),
    Transition("decide_no_bid", State.QUALIFICATION, State.NO_BID, ("reason_given",)),
    Transition("redefine_strategy", State.QUALIFICATION, State.STRATEGY_REWORK, ("reason_given",)),
    Transition(
        "resubmit_strategy",
        State.STRATEGY_REWORK,
        State.QUALIFICATION,
        ("strategy_reworked",),
        True,
    ),
    Transition(
        "start_production",
        State.KICK_OFF,
        State.BID_PRODUCTION,
        ("bid_team_assigned", "control_plan_made"),
        True,
    ),
    Transition(
        "request_governance",
        State.BID_PRODUCTION,
        State.GOVERNANCE_REVIEW,
        ("production_done", "proposal_ready"),
        True,
    ),
    Transition(
        "reject_governance", State.GOVERNANCE_REVIEW, State.BID_PRODUCTION, ("reason_given",)
    ),
    Transition(
        "approve_governance",
        State.GOVERNANCE_REVIEW,
        State.SUBMISSION,
        ("approvals_complete",),
        True,
    ),
    Transition("submit", State.SUBMISSION, State.CUSTOMER_DECISION, ("submission_package_ready",)),
    Transition(
        "shortlist", State.CUSTOMER_DECISION, State.CUSTOMER_DECISION, ("not_yet_shortlisted",)
    ),
    Transition("request_bafo", State.CUSTOMER_DECISION, State.BID_PRODUCTION, ("reason_given",)),
    Transition("win", State.CUSTOMER_DECISION, State.CONTRACT_PREPARATION, ("reason_given",)),
    Transition("lose", State.CUSTOMER_DECISION, State.LOST, ("reason_given",)),
    Transition(
        "sign_contract",
        State.CONTRACT_PREPARATION,
        State.CONTRACTED,
        ("order_sheet_ready", "changes_approved"),
        True,
    ),
    *_withdrawals(),
)


def automatic_transition(state: State) -> Transition | None:
    """The transition `advance` fires from this state without a human, if any."""
    for transition in TRANSITIONS:
        if transition.source == state and transition.automatic:
            return transition
    return None


def transitions_from(state: State) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source == state]


def find_transition(trigger: str, state: State) -> Transition | None:
    for transition in TRANSITIONS:
        if transition.trigger == trigger and transition.source == state:
            return transition
    return None


WAITING_FOR: dict[State, str] = {
    State.QUALIFICATION: "a go/no-go decision (bid decide)",
    State.BID_PRODUCTION: "bid production's work: QRFs, quotes, prices, design freeze (bid status)",
    State.GOVERNANCE_REVIEW: "the governance approvals (bid approve)",
    State.SUBMISSION: (
        "the offer to go out: bid submit OPP --by EMAIL --channel portal|email|hand "
        "--reference TEXT"
    ),
    State.CUSTOMER_DECISION: "the customer's verdict (bid result)",
    State.CONTRACT_PREPARATION: (
        "the order sheet's fixes (bid tasks; bid sites update) and the approval of price "
        "changes made after the win (bid approve)"
    ),
}
"""What a bid in this state waits for when `advance` cannot move it on."""
