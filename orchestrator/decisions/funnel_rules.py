"""`rules/funnel.yaml` loaded and validated in one place, and the periods figures cover.

The file holds the funnel targets per stage (overall and per account manager), the shape
thresholds, the forecast's revenue schedule, the controlled list of result reason
categories and the sleeping-account reminder delay. Any mistake raises `InputError`
naming the file and the field, e.g. `rules/funnel.yaml, field 'stages.kick_off.target'`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import InputError
from orchestrator.lifecycle.table import STEPS, State

FUNNEL_FILE = "funnel.yaml"
FUNNEL_STAGES: tuple[State, ...] = (*STEPS, State.CONTRACTED)
"""The funnel's stages: the eight lifecycle steps, then the signed contract."""

REVENUE_HORIZONS = ("short_term", "medium_term", "long_term")
REVENUE_MEASURES = ("order_intake_eur", "recurring_revenue_eur")
"""What a monthly revenue target counts (see rules/funnel.yaml `revenue_targets`)."""


@dataclass(frozen=True)
class StageRule:
    """Targets and defaults for one funnel stage."""

    stage: State
    target: int
    conversion: float | None
    weeks: float
    win_probability: float


@dataclass(frozen=True)
class ShapeThresholds:
    hybrid_min_skipped_share: float
    tunnel_min_survival: float
    early_stages_end: State


@dataclass(frozen=True)
class RevenueSlice:
    """Part of a bid's revenue, spread evenly over `months` from `start_month` after decision."""

    start_month: int
    months: int


@dataclass(frozen=True)
class FunnelConfig:
    """The validated funnel.yaml; targets are counts per quarter."""

    file: str
    stages: tuple[StageRule, ...]
    owners: dict[str, dict[State, int]]
    shape: ShapeThresholds
    min_closed_bids: int
    horizon_months: int
    revenue_schedule: dict[str, RevenueSlice]
    reason_categories: tuple[str, ...]
    sleeping_reminder_days: int
    revenue_targets: dict[str, dict[str, float]] = field(default_factory=dict)
    """Monthly targets in EUR per measure (REVENUE_MEASURES) and country (BE, NL, ...)."""

    def stage(self, stage: State) -> StageRule:
        return next(rule for rule in self.stages if rule.stage == stage)

    def targets_for(self, owner: str | None, months: int = 3) -> dict[State, int | None]:
        """Per stage the target of the account manager (or the overall one) for a period.

        Counts in an open stage are a snapshot, so their target holds for any period; the
        `contracted` target is a flow per quarter, scaled to the period's length in months
        and rounded half up (a year: 4 × 11 = 44; a month: 11 / 3 → 4).
        """
        if owner is None:
            targets: dict[State, int | None] = {rule.stage: rule.target for rule in self.stages}
        else:
            own = self.owners.get(owner, {})
            targets = {stage: own.get(stage) for stage in FUNNEL_STAGES}
        quarterly = targets[State.CONTRACTED]
        if quarterly is not None:
            targets[State.CONTRACTED] = (2 * quarterly * months + 3) // 6
        return targets


class _Reader:
    """Typed access to the parsed YAML that raises an InputError naming file and field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, message: str) -> InputError:
        return InputError(message, file=self.file, field=field)

    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, "must be a mapping")
        return value

    def number(self, value: Any, field: str, low: float, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"must be a number, got {value!r}")
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" and {high}"
            raise self.fail(field, f"must be between {low}{upper}, got {value!r}")
        return float(value)

    def integer(self, value: Any, field: str, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be a whole number, got {value!r}")
        if value < low:
            raise self.fail(field, f"must be at least {low}, got {value}")
        return value

    def stage(self, value: Any, field: str) -> State:
        if value not in {s.value for s in FUNNEL_STAGES}:
            names = ", ".join(s.value for s in FUNNEL_STAGES)
            raise self.fail(field, f"unknown stage {value!r}; expected one of {names}")
        return State(value)


def _stages(r: _Reader, raw: dict[str, Any]) -> tuple[StageRule, ...]:
    stages = r.mapping(raw.get("stages"), "stages")
    for name in stages:
        r.stage(name, f"stages.{name}")
    rules = []
    for stage in FUNNEL_STAGES:
        field = f"stages.{stage.value}"
        if stage.value not in stages:
            raise r.fail(field, "missing: every funnel stage needs a target")
        entry = r.mapping(stages[stage.value], field)
        conversion = entry.get("conversion")
        if stage is State.CONTRACTED and conversion is not None:
            raise r.fail(f"{field}.conversion", "the last stage has no next stage to convert to")
        rules.append(
            StageRule(
                stage=stage,
                target=r.integer(entry.get("target"), f"{field}.target", 0),
                conversion=None
                if stage is State.CONTRACTED
                else r.number(conversion, f"{field}.conversion", 0, 1),
                weeks=r.number(entry.get("weeks", 0), f"{field}.weeks", 0),
                win_probability=r.number(
                    entry.get("win_probability"), f"{field}.win_probability", 0, 1
                ),
            )
        )
    return tuple(rules)


def _owners(r: _Reader, raw: dict[str, Any]) -> dict[str, dict[State, int]]:
    owners: dict[str, dict[State, int]] = {}
    for email, targets in r.mapping(raw.get("owners", {}), "owners").items():
        if not isinstance(email, str) or "@" not in email:
            raise r.fail(f"owners.{email}", "must be the account manager's e-mail address")
        owners[email] = {
            r.stage(stage, f"owners.{email}.{stage}"): r.integer(
                value, f"owners.{email}.{stage}", 0
            )
            for stage, value in r.mapping(targets, f"owners.{email}").items()
        }
    return owners


def _schedule(r: _Reader, raw: dict[str, Any]) -> dict[str, RevenueSlice]:
    schedule = r.mapping(raw.get("revenue_schedule"), "forecast.revenue_schedule")
    result = {}
    for horizon in REVENUE_HORIZONS:
        field = f"forecast.revenue_schedule.{horizon}"
        entry = r.mapping(schedule.get(horizon), field)
        result[horizon] = RevenueSlice(
            start_month=r.integer(entry.get("start_month"), f"{field}.start_month", 0),
            months=r.integer(entry.get("months"), f"{field}.months", 1),
        )
    return result


def parse_funnel_config(raw: Any, file: str) -> FunnelConfig:
    """Validate parsed YAML into a FunnelConfig; errors name `file` and the field."""
    r = _Reader(file)
    raw = r.mapping(raw, "(top level)")
    shape = r.mapping(raw.get("shape"), "shape")
    calibration = r.mapping(raw.get("calibration"), "calibration")
    forecast = r.mapping(raw.get("forecast"), "forecast")
    categories = raw.get("reason_categories")
    if (
        not isinstance(categories, list)
        or not categories
        or not all(isinstance(c, str) and re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in categories)
    ):
        raise r.fail("reason_categories", "must be a non-empty list of snake_case names")
    if len(set(categories)) != len(categories):
        raise r.fail("reason_categories", "lists a category twice")
    return FunnelConfig(
        file=file,
        stages=_stages(r, raw),
        owners=_owners(r, raw),
        shape=ShapeThresholds(
            hybrid_min_skipped_share=r.number(
                shape.get("hybrid_min_skipped_share"), "shape.hybrid_min_skipped_share", 0, 1
            ),
            tunnel_min_survival=r.number(
                shape.get("tunnel_min_survival"), "shape.tunnel_min_survival", 0, 1
            ),
            early_stages_end=r.stage(shape.get("early_stages_end"), "shape.early_stages_end"),
        ),
        min_closed_bids=r.integer(
            calibration.get("min_closed_bids"), "calibration.min_closed_bids", 1
        ),
        horizon_months=r.integer(forecast.get("horizon_months"), "forecast.horizon_months", 1),
        revenue_schedule=_schedule(r, forecast),
        reason_categories=tuple(categories),
        sleeping_reminder_days=r.integer(
            raw.get("sleeping_reminder_days"), "sleeping_reminder_days", 1
        ),
        revenue_targets=_revenue_targets(r, raw.get("revenue_targets")),
    )


def _revenue_targets(r: _Reader, raw: Any) -> dict[str, dict[str, float]]:
    if raw is None:
        return {}
    targets: dict[str, dict[str, float]] = {}
    for measure, per_country in r.mapping(raw, "revenue_targets").items():
        if measure not in REVENUE_MEASURES:
            raise r.fail(
                f"revenue_targets.{measure}", f"unknown; one of {', '.join(REVENUE_MEASURES)}"
            )
        targets[measure] = {
            str(country): r.number(value, f"revenue_targets.{measure}.{country}", 0)
            for country, value in r.mapping(per_country, f"revenue_targets.{measure}").items()
        }
    return targets


def load_funnel_config(rules_dir: Path) -> FunnelConfig:
    """Read and validate `rules_dir/funnel.yaml`."""
    path = Path(rules_dir) / FUNNEL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}".replace("\n", " "), file=str(path)) from exc
    return parse_funnel_config(raw, str(path))


def reason_categories(rules_dir: Path) -> list[str]:
    """The controlled list of result reason categories (lost, no-bid, withdrawn, won)."""
    return list(load_funnel_config(rules_dir).reason_categories)


def sleeping_reminder_days(rules_dir: Path) -> int:
    """Days after a loss or no-bid before a sleeping account is due for a reminder."""
    return load_funnel_config(rules_dir).sleeping_reminder_days


@dataclass(frozen=True)
class Period:
    """A reporting period [start, end): a quarter, a month or a year."""

    label: str
    start: date
    end: date

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time())


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def month_period(year: int, month: int) -> Period:
    start = _month_start(year, month)
    return Period(f"{start:%Y-%m}", start, _month_start(start.year, start.month + 1))


def quarter_period(year: int, quarter: int) -> Period:
    start = date(year, 3 * quarter - 2, 1)
    return Period(f"{year}-Q{quarter}", start, _month_start(year, 3 * quarter + 1))


def quarter_of(day: date) -> Period:
    return quarter_period(day.year, (day.month - 1) // 3 + 1)


def month_of(day: date) -> Period:
    return month_period(day.year, day.month)


def add_months(period: Period, months: int) -> Period:
    """The month `months` after the month `period` starts in."""
    return month_period(period.start.year, period.start.month + months)


def parse_period(text: str) -> Period:
    """`2026-Q4`, `2026-11` or `2026` into a Period; anything else is an InputError."""
    value = text.strip().upper()
    if match := re.fullmatch(r"(\d{4})-Q([1-4])", value):
        return quarter_period(int(match[1]), int(match[2]))
    if (match := re.fullmatch(r"(\d{4})-(\d{2})", value)) and 1 <= int(match[2]) <= 12:
        return month_period(int(match[1]), int(match[2]))
    if re.fullmatch(r"\d{4}", value):
        return Period(value, date(int(value), 1, 1), date(int(value) + 1, 1, 1))
    raise InputError(f"{text!r} is not a period like 2026-Q4, 2026-11 or 2026", field="period")


def check_reason_category(rules_dir: Path, category: str, needed_for: str = "") -> str:
    """The category as funnel.yaml spells it (any case, spaces or dashes for underscores) if
    it is on the controlled list; else an InputError listing the list.

    Services call this before recording a lost, no-bid, withdrawn or won result.
    """
    allowed = load_funnel_config(rules_dir).reason_categories
    wanted = "_".join(category.strip().lower().replace("-", " ").split())
    if not wanted:
        what = f"{needed_for} needs" if needed_for else "give"
        raise InputError(f"{what} a reason category: one of {', '.join(allowed)}", field="category")
    if wanted not in allowed:
        raise InputError(
            f"unknown reason category {category!r}; choose one of {', '.join(allowed)}",
            field="category",
        )
    return wanted
