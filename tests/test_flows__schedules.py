"""No deployment runs more often than every 5 minutes — neither `bid serve-flows`'
deployments nor deploy/prefect.yaml's — and the effects drain replaced the per-minute
resume of stalled bids."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from flows.deployments import MIN_SCHEDULE_INTERVAL_S

ROOT = Path(__file__).resolve().parent.parent
MINIMUM = timedelta(seconds=MIN_SCHEDULE_INTERVAL_S)


def _shortest_cron_gap(cron: str, timezone: str | None) -> timedelta:
    """The shortest time between two runs of a cron schedule over its next 300 runs."""
    from prefect.server.schemas.schedules import CronSchedule

    dates: Any = CronSchedule(cron=cron, timezone=timezone or "UTC").get_dates(n=300)
    if inspect.isawaitable(dates):
        dates = asyncio.run(dates)  # type: ignore[arg-type]
    stamps = [date.timestamp() for date in dates]
    return timedelta(seconds=min(b - a for a, b in itertools.pairwise(stamps)))


def test_the_rule_itself_is_five_minutes_and_the_cron_check_sees_a_fast_schedule() -> None:
    assert timedelta(minutes=5) == MINIMUM
    assert _shortest_cron_gap("*/2 * * * *", None) == timedelta(minutes=2)
    # weekly, and one hour shorter across the change to summer time
    assert _shortest_cron_gap("0 8 * * 1", "Europe/Brussels") == timedelta(days=7, hours=-1)


def test_no_served_deployment_runs_more_often_than_every_five_minutes() -> None:
    from flows.deployments import all_deployments

    seen: dict[str, timedelta] = {}
    for deployment in all_deployments():
        for created in deployment.schedules or []:
            schedule: Any = created.schedule
            if getattr(schedule, "interval", None) is not None:
                gap = schedule.interval
            else:
                gap = _shortest_cron_gap(schedule.cron, schedule.timezone)
            seen[deployment.flow_name or deployment.name] = gap
    assert seen, "no scheduled deployment found"
    assert {name: gap for name, gap in seen.items() if gap < MINIMUM} == {}
    assert seen["effects-drain"] == MINIMUM
    assert "resume-stalled-bids" not in seen


def test_no_prefect_yaml_deployment_runs_more_often_than_every_five_minutes() -> None:
    data = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    gaps: dict[str, timedelta] = {}
    for deployment in data["deployments"]:
        for schedule in deployment.get("schedules") or []:
            if "interval" in schedule:
                gap = timedelta(seconds=float(schedule["interval"]))
            else:
                gap = _shortest_cron_gap(schedule["cron"], schedule.get("timezone"))
            gaps[deployment["entrypoint"]] = gap
    assert gaps
    assert {entry: gap for entry, gap in gaps.items() if gap < MINIMUM} == {}
    assert gaps["flows/tasks.py:drain_effects"] == MINIMUM
    assert not any("resume_stalled_bids" in entry for entry in gaps)
