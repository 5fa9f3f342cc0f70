"""Bid Control Plan: milestones back-planned from the submission deadline, offsets as data.

`rules/milestones.yaml` says which milestones exist, when each is planned (at intake, at
kick-off, at the governance request, when a quote request is recorded) and how far from its
anchor it falls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import RuleLoadError

PLANNED_AT = ("intake", "kick_off", "governance_request", "quote_request", "rfp_import")
ANCHORS = ("rfp_received", "governance_requested", "reply_by")


@dataclass(frozen=True)
class MilestoneRule:
    name: str
    planned_at: str
    owner_role: str
    offset_days: int | None = None
    after_hours: int | None = None
    anchor: str | None = None


@dataclass(frozen=True)
class PlannedMilestone:
    name: str
    due_at: datetime
    owner_role: str


@dataclass(frozen=True)
class WarningPolicy:
    due_soon_days: int
    management_after_overdue_days: int


def load_milestone_rules(rules_dir: Path) -> tuple[list[MilestoneRule], WarningPolicy]:
    """Read and validate `milestones.yaml`; a mistake names the file and the field."""
    path = rules_dir / "milestones.yaml"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleLoadError(f"{path}: cannot read milestones: {exc}".splitlines()[0]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("milestones"), list):
        raise RuleLoadError(f"{path}: 'milestones' must be a list")
    rules = []
    for index, item in enumerate(data["milestones"], start=1):
        where = f"{path}: milestone {index}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RuleLoadError(f"{where}: field 'name' is required")
        if item.get("planned_at") not in PLANNED_AT:
            raise RuleLoadError(f"{where}: field 'planned_at' must be one of {PLANNED_AT}")
        if not isinstance(item.get("owner_role"), str):
            raise RuleLoadError(f"{where}: field 'owner_role' is required")
        offset, after, anchor = item.get("offset_days"), item.get("after_hours"), item.get("from")
        if (offset is None) == (after is None):
            raise RuleLoadError(f"{where}: give exactly one of 'offset_days' or 'after_hours'")
        if after is not None and anchor not in ANCHORS:
            raise RuleLoadError(f"{where}: field 'from' must be one of {ANCHORS}")
        for key, value in (("offset_days", offset), ("after_hours", after)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise RuleLoadError(f"{where}: field '{key}' must be a whole number")
        rules.append(
            MilestoneRule(
                item["name"], item["planned_at"], item["owner_role"], offset, after, anchor
            )
        )
    warnings = data.get("warnings") or {}
    levels = {lvl.get("level"): lvl for lvl in warnings.get("levels", []) if isinstance(lvl, dict)}
    policy = WarningPolicy(
        due_soon_days=int(warnings.get("due_soon_days", 2)),
        management_after_overdue_days=int(levels.get("management", {}).get("days", 2)),
    )
    return rules, policy


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(17, 0), tzinfo=UTC)


def plan(
    rules: list[MilestoneRule],
    planned_at: str,
    *,
    submission_deadline: date,
    anchor_time: datetime,
    areas: tuple[tuple[str, str], ...] = (),
) -> list[PlannedMilestone]:
    """The milestones planned at `planned_at`, with due dates.

    Back-planned milestones are due at 17:00 UTC on their day; the governance sign-off
    gives one milestone per required (area, owner role).
    """
    planned: list[PlannedMilestone] = []
    for rule in rules:
        if rule.planned_at != planned_at:
            continue
        if rule.after_hours is not None:
            due = anchor_time + timedelta(hours=rule.after_hours)
        else:
            due = _end_of_day(submission_deadline + timedelta(days=rule.offset_days or 0))
        if rule.owner_role == "per_area":
            planned.extend(
                PlannedMilestone(f"{rule.name}_{area}", due, role) for area, role in areas
            )
        else:
            planned.append(PlannedMilestone(rule.name, due, rule.owner_role))
    return planned
