"""The whole lifecycle table, asserted as data, and the diagram generated from it."""

from __future__ import annotations

from pathlib import Path

from orchestrator.lifecycle.diagram import render
from orchestrator.lifecycle.table import ENDS, OPEN_STATES, STEPS, TRANSITIONS, State

EXPECTED = {
    ("qualify", "pre_qualification", "qualification"),
    ("decide_bid", "qualification", "kick_off"),
    ("decide_no_bid", "qualification", "no_bid"),
    ("redefine_strategy", "qualification", "strategy_rework"),
    ("resubmit_strategy", "strategy_rework", "qualification"),
    ("start_production", "kick_off", "bid_production"),
    ("request_governance", "bid_production", "governance_review"),
    ("reject_governance", "governance_review", "bid_production"),
    ("approve_governance", "governance_review", "submission"),
    ("submit", "submission", "customer_decision"),
    ("shortlist", "customer_decision", "customer_decision"),
    ("request_bafo", "customer_decision", "bid_production"),
    ("win", "customer_decision", "contract_preparation"),
    ("lose", "customer_decision", "lost"),
    ("sign_contract", "contract_preparation", "contracted"),
} | {
    ("withdraw", s, "withdrawn")
    for s in (
        "pre_qualification",
        "qualification",
        "strategy_rework",
        "kick_off",
        "bid_production",
        "governance_review",
        "submission",
        "customer_decision",
        "contract_preparation",
    )
}


def test_transition_table_is_exactly_the_process() -> None:
    actual = {(t.trigger, t.source.value, t.dest.value) for t in TRANSITIONS}
    assert actual == EXPECTED


def test_eight_steps_in_order_and_four_ends() -> None:
    assert [s.value for s in STEPS] == [
        "pre_qualification",
        "qualification",
        "kick_off",
        "bid_production",
        "governance_review",
        "submission",
        "customer_decision",
        "contract_preparation",
    ]
    assert {s.value for s in ENDS} == {"no_bid", "lost", "contracted", "withdrawn"}


def test_no_transition_leaves_an_end_and_every_open_state_can_move() -> None:
    sources = {t.source for t in TRANSITIONS}
    assert not sources & ENDS
    assert set(OPEN_STATES) <= sources
    reachable = {State.PRE_QUALIFICATION} | {t.dest for t in TRANSITIONS}
    assert reachable == set(State)


def test_lifecycle_doc_is_generated_from_the_table() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md").read_text()
    assert doc == render(), (
        "regenerate: python -m orchestrator.lifecycle.diagram > docs/lifecycle.md"
    )


def test_every_open_state_has_its_step_work_and_every_automatic_move_a_state() -> None:
    from orchestrator.bid.progress.steps import STEP_WORK
    from orchestrator.lifecycle.table import OPEN_STATES, automatic_transition

    assert set(STEP_WORK) == set(OPEN_STATES)
    waiting = {State.QUALIFICATION, State.SUBMISSION, State.CUSTOMER_DECISION}
    for state in OPEN_STATES:
        assert (automatic_transition(state) is None) == (state in waiting), state
