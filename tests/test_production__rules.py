"""The process data of bid production: its exit criteria and the change-to-approval table."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.bid.measures import exit_criteria
from orchestrator.decisions import production_rules
from orchestrator.decisions.production_rules import (
    load_change_table,
    parse_change_table,
    parse_exit_rules,
)
from orchestrator.errors import RuleLoadError

RULES = Path(__file__).resolve().parent.parent / "rules"


def test_every_measure_a_row_may_name_is_counted_by_the_bid_layer() -> None:
    assert set(production_rules.MEASURES) == set(exit_criteria.MEASURES)
    rules = production_rules.load_exit_rules(RULES)
    assert {c.measure for c in rules.criteria} <= set(exit_criteria.MEASURES)


def test_tiers_are_data_a_new_tier_is_a_new_row(tmp_path: Path) -> None:
    text = (RULES / "production_exit.yaml").read_text()
    text = text.replace(
        "criteria:\n",
        "criteria:\n  - {id: direct_firm, tiers: [direct], measure: firm_quotes, open: firm}\n",
        1,
    )
    text = text.replace(
        "    direct: [solution_consultant, bid_manager, account_manager, sales_support]\n",
        "    direct: [sales_support]\n",
    )
    text = text.replace(
        "    middle_market: [solution_consultant, bid_manager, account_manager]\n", ""
    )
    path = tmp_path / "production_exit.yaml"
    path.write_text(text)
    rules = parse_exit_rules(path)
    direct = [c.id for c in rules.for_tier("direct")]
    assert "direct_firm" in direct and "firm_quotes" not in direct  # top's row stays top's
    assert "sites_sourced" in direct  # "*" rows hold for tiers added later
    assert rules.roles_to_freeze("direct") == ("sales_support",)
    assert rules.roles_to_freeze("middle_market") == ("solution_consultant", "bid_manager")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{id: x, tiers: ['*'], measure: unanswered, open: x}", "measure must be one of"),
        ("{id: x, tiers: ['*'], measure: firm_quotes, open: '{nope}'}", "names nope"),
        (
            "{id: x, tiers: ['*'], measure: firm_quotes, open: x, min_share: 0.5, max_share: 1}",
            "both min_share and max_share",
        ),
        ("{id: x, tiers: ['*'], measure: firm_quotes, open: x, min_share: 2}", "between 0 and 1"),
        ("{id: x, tiers: [], measure: firm_quotes, open: x}", "non-empty list"),
        ("{id: sites_sourced, tiers: ['*'], measure: firm_quotes, open: x}", "listed twice"),
        ("{id: x, tiers: [middle], measure: firm_quotes, open: x}", r"unknown tiers \['middle'\]"),
    ],
)
def test_a_bad_exit_row_names_the_file_and_the_row(tmp_path: Path, row: str, message: str) -> None:
    text = (RULES / "production_exit.yaml").read_text()
    path = tmp_path / "production_exit.yaml"
    path.write_text(text.replace("criteria:\n", f"criteria:\n  - {row}\n", 1))
    with pytest.raises(RuleLoadError, match=message) as caught:
        parse_exit_rules(path)
    assert str(path) in str(caught.value)


def test_the_change_table_decides_by_phase_and_condition() -> None:
    table = load_change_table(RULES)
    assert table.first("quotes", "production", frozenset()).thaws_design
    assert table.first("quotes", "review", frozenset()).action == "record"
    down = table.first("quotes", "review", frozenset({"margin_down"}))
    assert (down.action, down.approvals) == ("reapprove", ("financial",))
    below = table.first("quotes", "review", frozenset({"margin_down", "below_floor"}))
    assert below.approvals == ("financial", "management")
    negative = frozenset({"margin_down", "below_floor", "negative_margin"})
    assert table.first("quotes", "review", negative).action == "rework"
    assert table.first("terms", "review", frozenset()).approvals == ("legal",)
    assert table.first("sites", "review", frozenset()).action == "refuse"
    after_win = table.first("quotes", "submitted", frozenset({"margin_down", "below_floor"}))
    assert (after_win.action, after_win.approvals) == ("notify", ("financial",))
    assert table.first("prices", "submitted", frozenset()).action == "refuse"
    assert table.first("quotes", "closed", frozenset()).action == "refuse"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "  - {id: a, change: quotes, phase: submitted, action: reapprove, "
            "approvals: [financial]}\n",
            "could never be given",
        ),
        ("  - {id: a, change: quotes, phase: review, action: notify}\n", "must name the approvals"),
        ("  - {id: a, change: quotes, phase: review, action: refuse}\n", "give the reason"),
        ("  - {id: a, change: margins, phase: review, action: record}\n", "change must be one of"),
        (
            "  - {id: a, change: quotes, phase: review, action: record}\n",
            "no row for a quotes change in production",
        ),
    ],
)
def test_a_bad_change_table_is_refused(tmp_path: Path, rules: str, message: str) -> None:
    path = tmp_path / "changes.yaml"
    path.write_text("rules:\n" + rules)
    with pytest.raises(RuleLoadError, match=message):
        parse_change_table(path)
