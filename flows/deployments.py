"""Every flow as a deployment, for `bid serve-flows` (the simplest worker: `prefect.serve`).

The names match `deploy/prefect.yaml`, so a bid manager finds the same deployments in the UI
whichever way the workers were started. The deadline watch runs on a schedule.
"""

from __future__ import annotations

from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

DEPLOYMENT_NAME = "bid-orchestrator"
DEADLINE_WATCH_INTERVAL_S = 3600
RESUME_INTERVAL_S = 60


def all_deployments(
    deadline_interval_s: int | None = DEADLINE_WATCH_INTERVAL_S,
) -> list[RunnerDeployment]:
    """The deployments of every step flow, the lifecycle, the UI forms and the deadline watch."""
    from flows.deadline_watch import deadline_watch
    from flows.forms import advance_bid, generate_documents, new_bid_from_rfp
    from flows.steps import STEP_FLOWS, bid_lifecycle
    from flows.tasks import resume_stalled_bids

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
        resume_stalled_bids.to_deployment(
            description="Carry on bids whose next steps were lost to a crash or an outage.",
            interval=RESUME_INTERVAL_S,
            **common,
        ),
        deadline_watch.to_deployment(
            description="Warn milestone owners; publish the deadline board.",
            interval=deadline_interval_s,
            **common,
        ),
    ]
    made.extend(step.to_deployment(**common) for step in STEP_FLOWS.values())
    # `to_deployment` is typed sync-or-async; called from sync code it returns the deployment.
    return [d for d in made if isinstance(d, RunnerDeployment)]
