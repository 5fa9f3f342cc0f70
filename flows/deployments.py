"""Every flow as a deployment, for `bid serve-flows` (the simplest worker: `prefect.serve`).

The names match `deploy/prefect.yaml`, so a bid manager finds the same deployments in the UI
whichever way the workers were started. The deadline watch, the meeting packs and the
renewal scan run on schedules (Europe/Brussels time); the effects drain every 5 minutes.
"""

from __future__ import annotations

from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

DEPLOYMENT_NAME = "bid-orchestrator"
DEADLINE_WATCH_INTERVAL_S = 3600
EFFECTS_DRAIN_INTERVAL_S = 300
"""Every 5 minutes: the doors drain after each command; this catches what they left."""
MIN_SCHEDULE_INTERVAL_S = 300
"""No deployment runs more often than this (a test holds every schedule to it)."""
TIMEZONE = "Europe/Brussels"
WEEKLY_PACK_CRON = "0 8 * * 1"
"""Monday 08:00: the weekly update per top account."""
QUALIFICATION_PACK_CRON = "0 9 * * 4"
"""Thursday 09:00: the qualification meeting."""
RENEWAL_SCAN_CRON = "0 6 * * *"
"""Every day at 06:00."""


def all_deployments(
    deadline_interval_s: int | None = DEADLINE_WATCH_INTERVAL_S,
) -> list[RunnerDeployment]:
    """The deployments of every step flow, the lifecycle, the UI forms and the deadline watch."""
    from prefect.schedules import Cron

    from flows.deadline_watch import deadline_watch
    from flows.forms import advance_bid, generate_documents, new_bid_from_rfp
    from flows.packs import qualification_meeting_pack, renewal_scan, weekly_top_accounts_pack
    from flows.steps import STEP_FLOWS, bid_lifecycle
    from flows.tasks import drain_effects

    common: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "entrypoint_type": EntrypointType.MODULE_PATH,
        "tags": ["bid-orchestrator"],
    }
    made: list[Any] = [
        bid_lifecycle.to_deployment(
            description="Carry a bid as far as it goes without a person.", **common
        ),
        new_bid_from_rfp.to_deployment(description="New bid from an RFP.", **common),
        advance_bid.to_deployment(description="Advance a bid.", **common),
        generate_documents.to_deployment(description="Generate a bid's documents.", **common),
        drain_effects.to_deployment(
            description="Run and retry the effects of committed moves (documents, carry-ons).",
            interval=EFFECTS_DRAIN_INTERVAL_S,
            **common,
        ),
        deadline_watch.to_deployment(
            description="Warn milestone owners; publish the deadline board.",
            interval=deadline_interval_s,
            **common,
        ),
        weekly_top_accounts_pack.to_deployment(
            description="The weekly update per top account: HTML, PDF, Slack summary.",
            schedule=Cron(WEEKLY_PACK_CRON, timezone=TIMEZONE),
            **common,
        ),
        qualification_meeting_pack.to_deployment(
            description="The qualification meeting's pack: HTML, PDF, Slack summary.",
            schedule=Cron(QUALIFICATION_PACK_CRON, timezone=TIMEZONE),
            **common,
        ),
        renewal_scan.to_deployment(
            description="Open renewals of contracts nearing their end; wake sleeping accounts.",
            schedule=Cron(RENEWAL_SCAN_CRON, timezone=TIMEZONE),
            **common,
        ),
    ]
    made.extend(step.to_deployment(**common) for step in STEP_FLOWS.values())
    # `to_deployment` is typed sync-or-async; called from sync code it returns the deployment.
    return [d for d in made if isinstance(d, RunnerDeployment)]
