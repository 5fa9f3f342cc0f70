"""The engine around the tables: input checks, load errors, edits without restart, records."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import zen

from orchestrator.decisions.engine import (
    DECISION_TABLES,
    ZenRulesEngine,
    go_no_go,
    governance_requirements,
    qualify_lead,
    routing,
    rules_fingerprint,
)
from orchestrator.errors import RuleError, RuleInputError, RuleLoadError

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
FACTS: dict[str, dict[str, Any]] = {
    "bants": {
        "tier": "top",
        "budget_eur": 750000,
        "authority": "decision_maker",
        "need": "clear",
        "timeframe_months": 6,
        "sales_ready": True,
    },
    "go_no_go": {
        "bants_result": "qualified",
        "tier": "major",
        "revenue_eur": 400000,
        "days_to_deadline": 4,
        "open_bids_per_bid_manager": 2,
        "strategic_fit": "medium",
    },
    "governance": {
        "tier": "top",
        "total_contract_value_eur": 800000,
        "monthly_recurring_eur": 20000,
        "one_off_eur": 80000,
        "margin_pct": 21.5,
        "discount_pct": 5.0,
        "budgetary_share": 0.0,
        "non_standard_terms": 0,
    },
    "routing": {"tier": "top", "step": "kick_off"},
}
FIXED_NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A private copy of rules/ that a test may edit."""
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


@pytest.fixture
def engine(rules_dir: Path) -> ZenRulesEngine:
    return ZenRulesEngine(rules_dir, clock=lambda: FIXED_NOW)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new))


def one_line_without_rust(message: str) -> None:
    assert "\n" not in message
    for rust in ("panicked", "Stack backtrace", "rustc", ".rs:"):
        assert rust not in message


# --- facts are checked before evaluation -------------------------------------------------


@pytest.mark.parametrize(("table", "field"), [(t, f) for t in DECISION_TABLES for f in FACTS[t]])
def test_every_missing_field_is_named(engine: ZenRulesEngine, table: str, field: str) -> None:
    facts = {k: v for k, v in FACTS[table].items() if k != field}
    with pytest.raises(RuleInputError) as caught:
        engine.evaluate(table, facts)
    assert str(caught.value) == f"{table}: field '{field}' is missing"


def test_the_pitfall_zen_alone_matches_the_catch_all_row_on_a_missing_field() -> None:
    """Why we validate: without an input schema, zen-engine answers 'bid' with no deadline."""
    graph = json.loads((RULES_DIR / "go_no_go.json").read_text())
    for node in graph["nodes"]:
        node.get("content", {}).pop("schema", None)
    facts = {k: v for k, v in FACTS["go_no_go"].items() if k != "days_to_deadline"}
    result = zen.ZenEngine().create_decision(json.dumps(graph)).evaluate(facts)["result"]
    assert result["rule"] == "gng.bid"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("days_to_deadline", "3", "field 'days_to_deadline' must be integer, got str '3'"),
        ("days_to_deadline", 3.5, "field 'days_to_deadline' must be integer, got float 3.5"),
        ("open_bids_per_bid_manager", True, "must be integer, got bool True"),
        ("revenue_eur", None, "field 'revenue_eur' must be number, got NoneType None"),
        ("revenue_eur", float("nan"), "field 'revenue_eur' must be a finite number"),
        ("revenue_eur", -1, "field 'revenue_eur' must be >= 0, got -1"),
        ("strategic_fit", "HIGH", "field 'strategic_fit' must be one of 'high', 'medium', 'low'"),
        ("bants_result", "maybe", "field 'bants_result' must be one of"),
    ],
)
def test_mistyped_fields_are_refused(
    engine: ZenRulesEngine, field: str, value: Any, message: str
) -> None:
    with pytest.raises(RuleInputError, match=r"^go_no_go: ") as caught:
        engine.evaluate("go_no_go", {**FACTS["go_no_go"], field: value})
    assert message in str(caught.value)


def test_unexpected_field_is_refused(engine: ZenRulesEngine) -> None:
    with pytest.raises(RuleInputError, match=r"field 'deadline' is not expected"):
        engine.evaluate("go_no_go", {**FACTS["go_no_go"], "deadline": 3})


def test_facts_must_be_a_mapping(engine: ZenRulesEngine) -> None:
    with pytest.raises(RuleInputError, match=r"facts must be a mapping"):
        engine.evaluate("routing", [("tier", "top")])  # type: ignore[arg-type]


def test_margin_may_be_null_but_not_text(engine: ZenRulesEngine) -> None:
    assert governance_requirements(engine, tier="top", total_contract_value_eur=1, margin_pct=None)
    with pytest.raises(RuleInputError, match=r"'margin_pct' must be null or number, got str"):
        engine.evaluate("governance", {**FACTS["governance"], "margin_pct": "12%"})


def test_str_enum_members_are_accepted_and_recorded_as_plain_strings(
    engine: ZenRulesEngine,
) -> None:
    class Tier(StrEnum):
        TOP = "top"

    decision = routing(engine, tier=Tier.TOP, step="bid_production")
    assert decision.outputs["lead_role"] == "solution_consultant"
    assert type(decision.inputs["tier"]) is str


# --- the Decision record ------------------------------------------------------------------


def test_decision_records_version_rows_and_time(engine: ZenRulesEngine, rules_dir: Path) -> None:
    decision = go_no_go(engine, **FACTS["go_no_go"])
    content = (rules_dir / "go_no_go.json").read_bytes()
    assert decision.table == "go_no_go"
    assert decision.rule_file == "go_no_go.json"
    assert decision.rule_hash == hashlib.sha256(content).hexdigest()
    assert decision.rule_hash == rules_fingerprint(rules_dir)["go_no_go.json"]
    assert decision.inputs == FACTS["go_no_go"]
    assert decision.outputs == {
        "recommendation": "bid",
        "hard": False,
        "reason": "Qualified lead, enough time, capacity and fit: bid.",
        "rule": "gng.bid",
    }
    assert decision.matched_rows == ["gng.bid"]
    assert decision.evaluated_at == FIXED_NOW
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.table = "x"  # type: ignore[misc]


def test_bants_rows_are_listed_in_evaluation_order(engine: ZenRulesEngine) -> None:
    decision = qualify_lead(engine, **FACTS["bants"])
    assert decision.matched_rows[0] == "bants.min_budget.top"
    assert decision.matched_rows[-1] == "bants.result.qualified"
    assert len(decision.matched_rows) == 7
    assert set(decision.outputs) == {"result", "score", "failed"}


def test_evaluated_at_is_converted_to_utc(rules_dir: Path) -> None:
    brussels = timezone(timedelta(hours=1))
    engine = ZenRulesEngine(rules_dir, clock=lambda: datetime(2025, 1, 1, 10, tzinfo=brussels))
    decision = routing(engine, tier="top", step="kick_off")
    assert decision.evaluated_at == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert decision.evaluated_at.tzinfo is UTC


def test_default_clock_is_timezone_aware(rules_dir: Path) -> None:
    decision = routing(ZenRulesEngine(rules_dir), tier="top", step="kick_off")
    assert decision.evaluated_at.tzinfo is UTC


def test_naive_clock_is_a_bug(rules_dir: Path) -> None:
    engine = ZenRulesEngine(rules_dir, clock=lambda: datetime(2025, 1, 1))
    with pytest.raises(ValueError, match=r"timezone-aware"):
        routing(engine, tier="top", step="kick_off")


def test_rules_fingerprint_lists_the_four_tables(rules_dir: Path) -> None:
    fingerprint = rules_fingerprint(rules_dir)
    assert sorted(fingerprint) == sorted(f"{t}.json" for t in DECISION_TABLES)
    assert all(len(h) == 64 for h in fingerprint.values())


# --- malformed files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"nodes": [', "go_no_go.json: not valid JSON"),
        ("[]", "go_no_go.json: not a JDM decision graph"),
        ('{"nodes": [{"id": "x", "type": "inputNode"}], "edges": []}', "needs one inputNode and"),
    ],
)
def test_malformed_file_is_a_load_error_naming_the_file(
    engine: ZenRulesEngine, rules_dir: Path, content: str, message: str
) -> None:
    (rules_dir / "go_no_go.json").write_text(content)
    with pytest.raises(RuleLoadError) as caught:
        go_no_go(engine, **FACTS["go_no_go"])
    assert message in str(caught.value)
    one_line_without_rust(str(caught.value))


def test_graph_zen_refuses_is_one_line_without_rust_trace(
    engine: ZenRulesEngine, rules_dir: Path
) -> None:
    path = rules_dir / "routing.json"
    graph = json.loads(path.read_text())
    del graph["nodes"][1]["name"]  # zen-engine: "missing field `name`", plus a Rust backtrace
    path.write_text(json.dumps(graph))
    with pytest.raises(RuleLoadError) as caught:
        routing(engine, tier="top", step="kick_off")
    assert str(caught.value).startswith("routing.json: zen-engine refuses it: ")
    assert "name" in str(caught.value)
    one_line_without_rust(str(caught.value))


def test_broken_cell_fails_the_load_instead_of_never_matching(
    engine: ZenRulesEngine, rules_dir: Path
) -> None:
    edit(rules_dir / "go_no_go.json", '"g_days": "< 0"', '"g_days": "< < 0"')
    with pytest.raises(RuleLoadError) as caught:
        go_no_go(engine, **FACTS["go_no_go"])
    assert "go_no_go.json: row 'gng.deadline_passed'" in str(caught.value)
    one_line_without_rust(str(caught.value))


def test_table_without_hit_policy_is_refused(engine: ZenRulesEngine, rules_dir: Path) -> None:
    edit(rules_dir / "routing.json", '"hitPolicy": "first"', '"hitPolicy": ""')
    with pytest.raises(RuleLoadError, match=r"routing\.json: table .* explicit hitPolicy"):
        routing(engine, tier="top", step="kick_off")


def test_duplicate_row_ids_are_refused(engine: ZenRulesEngine, rules_dir: Path) -> None:
    edit(rules_dir / "go_no_go.json", '"_id": "gng.bants_nurture"', '"_id": "gng.bid"')
    with pytest.raises(RuleLoadError, match=r"row ids used twice: gng\.bid"):
        go_no_go(engine, **FACTS["go_no_go"])


def test_missing_file_and_bad_table_name(engine: ZenRulesEngine, rules_dir: Path) -> None:
    (rules_dir / "routing.json").unlink()
    with pytest.raises(RuleLoadError, match=r"routing\.json: cannot read"):
        routing(engine, tier="top", step="kick_off")
    with pytest.raises(RuleLoadError, match=r"not a decision table name"):
        engine.evaluate("../rules/routing", {})


def test_wrong_output_value_in_a_table_is_an_error(engine: ZenRulesEngine, rules_dir: Path) -> None:
    edit(rules_dir / "go_no_go.json", '"g_rec": "\\"bid\\""', '"g_rec": "\\"bidd\\""')
    with pytest.raises(RuleError, match=r"^go_no_go\.json: .*recommendation.*bidd"):
        go_no_go(engine, **FACTS["go_no_go"])


# --- edits take effect without a restart ---------------------------------------------------


def test_edit_takes_effect_for_the_next_decision(engine: ZenRulesEngine, rules_dir: Path) -> None:
    path = rules_dir / "go_no_go.json"
    before = go_no_go(engine, **FACTS["go_no_go"])  # 4 days left: bid
    assert before.outputs["recommendation"] == "bid"
    edit(path, '"g_days": "< 3"', '"g_days": "< 5"')
    after = go_no_go(engine, **FACTS["go_no_go"])
    assert after.outputs["rule"] == "gng.too_little_time"
    assert after.outputs["hard"] is True
    assert after.rule_hash != before.rule_hash
    assert after.rule_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert engine.load_errors() == {}


def test_broken_edit_keeps_the_previous_version_serving(
    engine: ZenRulesEngine, rules_dir: Path
) -> None:
    path = rules_dir / "go_no_go.json"
    good = go_no_go(engine, **FACTS["go_no_go"])
    path.write_text(path.read_text()[:-20])  # a truncated save
    served = go_no_go(engine, **FACTS["go_no_go"])
    assert served.rule_hash == good.rule_hash
    assert served.outputs == good.outputs
    errors = engine.load_errors()
    assert list(errors) == ["go_no_go.json"]
    assert errors["go_no_go.json"].startswith("go_no_go.json: not valid JSON")
    assert engine.reload() == errors

    edit_back = json.loads((RULES_DIR / "go_no_go.json").read_text())
    edit_back["nodes"][1]["name"] = "Go / no-go (fixed)"
    path.write_text(json.dumps(edit_back, indent=2))
    fixed = go_no_go(engine, **FACTS["go_no_go"])
    assert fixed.rule_hash == hashlib.sha256(path.read_bytes()).hexdigest() != good.rule_hash
    assert engine.load_errors() == {}


def test_reload_reports_every_broken_table(engine: ZenRulesEngine, rules_dir: Path) -> None:
    assert engine.reload() == {}
    (rules_dir / "bants.json").write_text("{")
    (rules_dir / "routing.json").write_text("not json")
    assert sorted(engine.reload()) == ["bants.json", "routing.json"]
    assert qualify_lead(engine, **FACTS["bants"]).outputs["result"] == "qualified"  # old version


def test_table_that_never_loaded_raises(rules_dir: Path) -> None:
    (rules_dir / "bants.json").write_text("{")
    engine = ZenRulesEngine(rules_dir)
    for _ in range(2):  # the second call takes the unchanged-file path
        with pytest.raises(RuleLoadError, match=r"^bants\.json: not valid JSON"):
            qualify_lead(engine, **FACTS["bants"])
    assert list(engine.load_errors()) == ["bants.json"]


def test_edits_under_concurrent_evaluation_never_mix_versions(
    engine: ZenRulesEngine, rules_dir: Path
) -> None:
    path = rules_dir / "go_no_go.json"
    original = path.read_text()
    stricter = original.replace('"g_days": "< 3"', '"g_days": "< 5"')
    expected = {
        hashlib.sha256(original.encode()).hexdigest(): "gng.bid",
        hashlib.sha256(stricter.encode()).hexdigest(): "gng.too_little_time",
    }
    failures: list[str] = []

    def evaluate_many() -> None:
        for _ in range(150):
            decision = go_no_go(engine, **FACTS["go_no_go"])
            if expected.get(decision.rule_hash) != decision.outputs["rule"]:
                failures.append(f"{decision.rule_hash[:8]} gave {decision.outputs['rule']}")

    threads = [threading.Thread(target=evaluate_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(20):
        path.write_text(stricter if i % 2 == 0 else original)
    for thread in threads:
        thread.join()
    assert failures == []


def test_reload_rereads_an_edit_that_kept_size_and_mtime(
    engine: ZenRulesEngine, rules_dir: Path
) -> None:
    """A same-size edit inside one mtime tick is invisible to the stat check; reload() sees it."""
    path = rules_dir / "go_no_go.json"
    before = go_no_go(engine, **FACTS["go_no_go"])
    stat = path.stat()
    edit(path, '"g_days": "< 3"', '"g_days": "< 5"')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert go_no_go(engine, **FACTS["go_no_go"]).rule_hash == before.rule_hash
    assert engine.reload() == {}
    assert go_no_go(engine, **FACTS["go_no_go"]).outputs["rule"] == "gng.too_little_time"
