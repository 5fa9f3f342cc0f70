"""Every flow as a deployment, for `bid serve-flows` (the simplest worker: `prefect.serve`).

Each deployment is named for what it does ("New bid from an RFP", "Advance a bid", "Deadline
watch", ...: `DEPLOYMENT_TITLES`), the title a business user reads in the Prefect UI; the flow's
technical name stays in small print. The names match `deploy/prefect.yaml` (a test checks), so
a bid manager finds the same deployments in the UI whichever way the workers were started.
The deadline watch, the meeting packs and the renewal scan run on schedules (Europe/Brussels
time); the effects drain every 5 minutes.

The Prefect UI's forms are a door above the write path (`orchestrator/doors/prefect_forms.py`,
they dispatch typed commands); this module, in the flows layer below it, names them by
entrypoint string (`FORM_ENTRYPOINTS`) and Prefect loads them, so the flows never import the
pipeline.
"""

from __future__ import annotations

from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

DEPLOYMENT_TAG = "bid-orchestrator"
DEPLOYMENT_TITLES: dict[str, str] = {
    "new-bid-from-rfp": "New bid from an RFP",
    "advance-bid": "Advance a bid",
    "generate-documents": "Generate the documents of a bid",
    "bid-lifecycle": "Carry a bid on",
    "deadline-watch": "Deadline watch",
    "effects-drain": "Retry pending effects",
    "weekly-top-accounts-pack": "Weekly top-account update",
    "qualification-pack": "Qualification meeting pack",
    "renewal-scan": "Renewal scan",
    "qualification-evaluation": "Step 1 - Qualification",
    "kick-off-planning": "Step 2 - Kick-off plan",
    "bid-production": "Step 3 - Bid production",
    "governance-request": "Step 4 - Governance approvals",
    "submission-package": "Step 5 - Submission",
    "customer-decision": "Step 6 - Customer decision",
    "contract-preparation": "Step 7 - Contract preparation",
}
"""The deployment name of each flow (by flow name): what it does, in the words of the business."""
FORM_ENTRYPOINTS: dict[str, str] = {
    "new-bid-from-rfp": "orchestrator.doors.prefect_forms:new_bid_from_rfp",
    "advance-bid": "orchestrator.doors.prefect_forms:advance_bid",
    "generate-documents": "orchestrator.doors.prefect_forms:generate_documents",
}
"""The form flows by flow name: their module path (deploy/prefect.yaml names the same ones)."""
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
    from flows.packs import qualification_meeting_pack, renewal_scan, weekly_top_accounts_pack
    from flows.steps import STEP_FLOWS, bid_lifecycle
    from flows.tasks import drain_effects

    common: dict[str, Any] = {
        "entrypoint_type": EntrypointType.MODULE_PATH,
        "tags": [DEPLOYMENT_TAG],
    }

    def titled(flow: Any, description: str | None = None, **options: Any) -> Any:
        """The flow's deployment, named for what it does; its description: what a person
        gets from running it (the flow's docstring when none is given)."""
        return flow.to_deployment(
            name=DEPLOYMENT_TITLES[flow.name],
            description=description or flow.description,
            **options,
            **common,
        )

    def form(flow_name: str, description: str) -> RunnerDeployment:
        """A form flow's deployment, loaded by Prefect from its entrypoint (a door module the
        flows layer does not import)."""
        deployment = RunnerDeployment.from_entrypoint(
            FORM_ENTRYPOINTS[flow_name],
            name=DEPLOYMENT_TITLES[flow_name],
            description=description,
            tags=[DEPLOYMENT_TAG],
        )
        deployment._entrypoint_type = EntrypointType.MODULE_PATH
        return deployment

    made: list[Any] = [
        form(
            "new-bid-from-rfp",
            "Create a bid from a customer's RFP: the opportunity (a YAML file or the fields "
            "inline) and its sites (CSV); it then runs as far as it goes without a person.",
        ),
        form("advance-bid", "Advance a bid: one step, or until it waits for a person's answer."),
        form(
            "generate-documents",
            "Generate the documents of a bid again (proposal, QRFs, order sheet).",
        ),
        titled(bid_lifecycle, "Carry a bid as far as it goes without a person."),
        titled(
            deadline_watch,
            "Warn milestone owners and escalate; publish the deadline board and each bid's "
            "Bid Control Plan.",
            interval=deadline_interval_s,
        ),
        titled(
            drain_effects,
            "Run and retry the effects of committed moves (documents, carry-ons, messages).",
            interval=EFFECTS_DRAIN_INTERVAL_S,
        ),
        titled(
            weekly_top_accounts_pack,
            "The weekly update per top account: HTML, PDF, Slack summary.",
            schedule=Cron(WEEKLY_PACK_CRON, timezone=TIMEZONE),
        ),
        titled(
            qualification_meeting_pack,
            "The qualification meeting's pack: HTML, PDF, Slack summary.",
            schedule=Cron(QUALIFICATION_PACK_CRON, timezone=TIMEZONE),
        ),
        titled(
            renewal_scan,
            "Open renewals of contracts nearing their end; wake sleeping accounts.",
            schedule=Cron(RENEWAL_SCAN_CRON, timezone=TIMEZONE),
        ),
    ]
    made.extend(titled(step) for step in STEP_FLOWS.values())
    # `to_deployment` is typed sync-or-async; called from sync code it returns the deployment.
    return [d for d in made if isinstance(d, RunnerDeployment)]
