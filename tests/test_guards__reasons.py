"""Every guard refuses with a reason a bid manager can act on."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from orchestrator.lifecycle.guards import GUARDS, BidFacts

BASE = BidFacts(
    tier="top",
    bants={
        "budget_eur": 1,
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": 3,
        "sales_ready": True,
    },
    submission_deadline=date(2026, 12, 31),
    today=date(2026, 11, 27),
    team_roles=frozenset({"bid_manager", "solution_consultant", "account_manager"}),
    reason="because",
    strategy_reworked=True,
    milestone_count=5,
    proposal_hash="abc",
    required_areas=("technical", "financial", "legal"),
    granted_areas=frozenset({"technical", "financial", "legal"}),
    submission_package_ready=True,
    order_sheet_ready=True,
)

REFUSALS = [
    (
        "bants_complete",
        {"bants": {"budget_eur": 1}},
        "missing: authority, need, timeframe_months, sales_ready",
    ),
    ("deadline_not_passed", {"submission_deadline": date(2026, 11, 26)}, "2026-11-26 has passed"),
    ("reason_given", {"reason": "  "}, "a reason is required"),
    ("strategy_reworked", {"strategy_reworked": False}, "has not been reworked"),
    (
        "bid_team_assigned",
        {"team_roles": frozenset({"bid_manager"})},
        "kick-off needs a solution consultant assigned for top accounts",
    ),
    (
        "bid_team_assigned",
        {"team_roles": frozenset()},
        "kick-off needs a bid manager and a solution consultant assigned for top accounts",
    ),
    (
        "bid_team_assigned",
        {"tier": "major", "team_roles": frozenset({"bid_manager"})},
        "kick-off needs an account manager assigned for major accounts",
    ),
    ("control_plan_made", {"milestone_count": 0}, "needs a Bid Control Plan"),
    ("proposal_ready", {"proposal_hash": None}, "has not produced a proposal"),
    (
        "production_done",
        {"production_open": ("firm quotes 1,009 of 2,309", "272 sites unsourced (BR, CN, IN)")},
        "not done: firm quotes 1,009 of 2,309; 272 sites unsourced (BR, CN, IN)",
    ),
    (
        "approvals_complete",
        {"granted_areas": frozenset({"technical"})},
        "missing: financial, legal",
    ),
    ("approvals_complete", {"required_areas": ()}, "no governance approvals have been requested"),
    ("submission_package_ready", {"submission_package_ready": False}, "submission package"),
    ("order_sheet_ready", {"order_sheet_ready": False}, "order sheet has not been produced"),
    (
        "order_sheet_ready",
        {"order_sheet_problems": ("S1: postcode",)},
        "invalid lines: S1: postcode",
    ),
    ("not_yet_shortlisted", {"shortlisted": True}, "already shortlisted"),
    (
        "changes_approved",
        {"granted_areas": frozenset({"technical", "legal"})},
        "signing waits for the approval of the changes made after the win: financial",
    ),
]


def test_every_guard_passes_on_complete_facts() -> None:
    for name, guard in GUARDS.items():
        assert guard(BASE).ok, name


@pytest.mark.parametrize(("guard", "change", "reason"), REFUSALS)
def test_guard_refusal_says_why(guard: str, change: dict[str, object], reason: str) -> None:
    result = GUARDS[guard](replace(BASE, **change))  # type: ignore[arg-type]
    assert not result.ok
    assert reason in result.reason


def test_every_guard_has_a_refusal_case() -> None:
    assert {g for g, _, _ in REFUSALS} == set(GUARDS)


def test_installed_base_needs_no_named_team() -> None:
    assert GUARDS["bid_team_assigned"](
        replace(BASE, tier="installed_base", team_roles=frozenset())
    ).ok
