"""rules/funnel.yaml: the shipped file loads, and every mistake names the file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.decisions.funnel_rules import parse_period
from orchestrator.errors import BidError, InputError
from orchestrator.funnel.measure import (
    FUNNEL_STAGES,
    load_funnel_config,
    reason_categories,
    sleeping_reminder_days,
)
from orchestrator.lifecycle.table import State

RULES = Path(__file__).resolve().parents[1] / "rules"


def test_shipped_file_loads_with_every_stage_in_lifecycle_order() -> None:
    config = load_funnel_config(RULES)
    assert [rule.stage for rule in config.stages] == [
        State.PRE_QUALIFICATION,
        State.QUALIFICATION,
        State.KICK_OFF,
        State.BID_PRODUCTION,
        State.GOVERNANCE_REVIEW,
        State.SUBMISSION,
        State.CUSTOMER_DECISION,
        State.CONTRACT_PREPARATION,
        State.CONTRACTED,
    ]
    assert list(FUNNEL_STAGES) == [rule.stage for rule in config.stages]
    assert config.stage(State.CONTRACTED).target == 11
    assert config.stage(State.CONTRACTED).conversion is None
    assert config.targets_for("anna.janssens@example.com")[State.CONTRACTED] == 4
    assert config.targets_for("anna.janssens@example.com")[State.KICK_OFF] is None
    assert config.targets_for("nobody@example.com")[State.CONTRACTED] is None


@pytest.mark.parametrize(("months", "contracts"), [(3, 11), (12, 44), (1, 4), (2, 7)])
def test_the_contract_target_is_per_quarter_and_scales(months: int, contracts: int) -> None:
    # 11 per quarter: a month is 3.67 → 4, two months 7.33 → 7; open-stage targets don't scale
    targets = load_funnel_config(RULES).targets_for(None, months)
    assert targets[State.CONTRACTED] == contracts
    assert targets[State.QUALIFICATION] == 48


def test_reason_categories_and_sleeping_days_for_services() -> None:
    assert reason_categories(RULES) == [
        "price",
        "solution_fit",
        "relationship",
        "timing",
        "incumbent_retained",
        "capacity",
        "strategic",
        "postponed",
        "other",
    ]
    assert sleeping_reminder_days(RULES) == 180


def _write_variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    raw = yaml.safe_load((RULES / "funnel.yaml").read_text())
    change(raw)
    (tmp_path / "funnel.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path


def _set(*path: str, **values: object) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        for key in path:
            raw = raw[key]
        raw.update(values)

    return change


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        for key in path[:-1]:
            raw = raw[key]
        raw.pop(path[-1])

    return change


MISTAKES = [
    (_drop("stages", "kick_off"), "stages.kick_off", "missing"),
    (_set("stages", "qualification", conversion=1.5), "stages.qualification.conversion", "between"),
    (_set("stages", "submission", target="ten"), "stages.submission.target", "whole number"),
    (_set("stages", "submission", target=-1), "stages.submission.target", "at least 0"),
    (_set("stages", "contracted", conversion=0.5), "stages.contracted.conversion", "no next"),
    (_set("stages", shortlist={"target": 1}), "stages.shortlist", "unknown stage"),
    (_set("owners", bob={"contracted": 1}), "owners.bob", "e-mail"),
    (_set("owners", "bart.peeters@example.com", demo=1), "owners.bart.peeters@example.com.demo",
     "unknown stage"),
    (_set(reason_categories=[]), "reason_categories", "non-empty"),
    (_set(reason_categories=["price", "price"]), "reason_categories", "twice"),
    (_set(sleeping_reminder_days=0), "sleeping_reminder_days", "at least 1"),
    (_set("shape", early_stages_end="lunch"), "shape.early_stages_end", "unknown stage"),
    (_drop("forecast", "revenue_schedule", "long_term"), "forecast.revenue_schedule.long_term",
     "mapping"),
    (_set("calibration", min_closed_bids=True), "calibration.min_closed_bids", "whole number"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "words"), MISTAKES)
def test_a_mistake_names_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, words: str
) -> None:
    rules = _write_variant(tmp_path, change)
    with pytest.raises(InputError) as caught:
        load_funnel_config(rules)
    assert caught.value.field == field
    assert caught.value.file == str(rules / "funnel.yaml")
    message = str(caught.value)
    assert str(rules / "funnel.yaml") in message
    assert f"field '{field}'" in message
    assert words in message
    assert "\n" not in message


def test_broken_yaml_and_missing_file_are_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_funnel_config(tmp_path)
    (tmp_path / "funnel.yaml").write_text("stages: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML") as caught:
        load_funnel_config(tmp_path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, BidError)


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026-Q4", "2026-Q4", "2026-10-01", "2027-01-01"),
        ("2026-q1", "2026-Q1", "2026-01-01", "2026-04-01"),
        ("2026-11", "2026-11", "2026-11-01", "2026-12-01"),
        ("2026-12", "2026-12", "2026-12-01", "2027-01-01"),
        ("2025", "2025", "2025-01-01", "2026-01-01"),
    ],
)
def test_periods(text: str, label: str, start: str, end: str) -> None:
    period = parse_period(text)
    assert (period.label, period.start.isoformat(), period.end.isoformat()) == (label, start, end)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "Q4", "last month"])
def test_bad_period_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="not a period"):
        parse_period(text)
