"""Golden cases for the decision tables: tests/scenarios/rules/<table>.yaml against rules/.

Each YAML case gives the facts, the outputs expected (a subset of the Decision's outputs, keys
may be dotted paths) and
rows that must be among the matched rows. A second test reads the row ids straight from the
JSON tables and fails when a row is not hit by any case, so a new row needs a new case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.decisions import engine as decisions
from orchestrator.decisions.engine import DECISION_TABLES, Decision, ZenRulesEngine

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "rules"


def load_scenario(table: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / f"{table}.yaml").read_text())
    assert data["table"] == table
    return data


def cases() -> Iterator[Any]:
    for table in DECISION_TABLES:
        for case in load_scenario(table)["cases"]:
            yield pytest.param(table, case, id=f"{table}: {case['name']}")


def run_case(engine: ZenRulesEngine, table: str, case: dict[str, Any]) -> Decision:
    scenario = load_scenario(table)
    function: Callable[..., Decision] = getattr(decisions, scenario["function"])
    inputs = {**scenario.get("defaults", {}), **case["inputs"]}
    return function(engine, **inputs)


def json_row_ids(table: str) -> list[str]:
    """Every row id of every decision-table node, read from the JSON file itself."""
    graph = json.loads((RULES_DIR / f"{table}.json").read_text())
    return [
        row["_id"]
        for node in graph["nodes"]
        if node["type"] == "decisionTableNode"
        for row in node["content"]["rules"]
    ]


@pytest.fixture(scope="module")
def engine() -> ZenRulesEngine:
    return ZenRulesEngine(RULES_DIR)


@pytest.mark.parametrize(("table", "case"), list(cases()))
def test_golden_case(engine: ZenRulesEngine, table: str, case: dict[str, Any]) -> None:
    decision = run_case(engine, table, case)
    for path, expected in case["expect"].items():
        actual: Any = decision.outputs
        for key in path.split("."):
            actual = actual[key]
        assert actual == expected, f"{path}: {decision.outputs}"
    missing = [row for row in case.get("rows", []) if row not in decision.matched_rows]
    assert not missing, f"rows {missing} not among {decision.matched_rows}"
    assert decision.table == table
    assert decision.rule_file == f"{table}.json"


@pytest.mark.parametrize("table", DECISION_TABLES)
def test_every_row_is_hit_by_a_golden_case(engine: ZenRulesEngine, table: str) -> None:
    hit = {
        row
        for case in load_scenario(table)["cases"]
        for row in run_case(engine, table, case).matched_rows
    }
    unhit = [row for row in json_row_ids(table) if row not in hit]
    assert not unhit, f"{table}.json rows with no golden case: {unhit}"


@pytest.mark.parametrize("table", DECISION_TABLES)
def test_every_table_declares_its_hit_policy(table: str) -> None:
    graph = json.loads((RULES_DIR / f"{table}.json").read_text())
    policies = [
        n["content"].get("hitPolicy") for n in graph["nodes"] if n["type"] == "decisionTableNode"
    ]
    assert policies
    assert set(policies) <= {"first", "collect"}


def test_go_no_go_rule_output_names_its_own_row() -> None:
    """The `rule` column is typed by hand; it must repeat the row's _id."""
    graph = json.loads((RULES_DIR / "go_no_go.json").read_text())
    (table,) = [n for n in graph["nodes"] if n["type"] == "decisionTableNode"]
    (rule_col,) = [c["id"] for c in table["content"]["outputs"] if c["field"] == "rule"]
    for row in table["content"]["rules"]:
        assert row[rule_col] == json.dumps(row["_id"])


def test_engine_row_ids_match_the_file(engine: ZenRulesEngine) -> None:
    for table in DECISION_TABLES:
        assert list(engine.row_ids(table)) == json_row_ids(table)
