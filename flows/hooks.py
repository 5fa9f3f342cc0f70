"""What a failed or crashed flow run leaves behind: a `flow_crashed` audit event on the bid.

The services keep a bid consistent on their own (one transaction per step); this record only
tells `bid status` that the last automated run stopped, why, and that `bid advance` resumes it.
Refusals (`BidError`: a guard said no) are outcomes, not crashes, and leave nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext

from flows.context import current
from orchestrator.bid.trail.recording import record_flow_crash
from orchestrator.errors import BidError


def ref_of(parameters: Mapping[str, Any]) -> str | None:
    """The bid a run works on, from its parameters (`ref`, or a request's `opportunity`)."""
    ref = parameters.get("ref")
    if isinstance(ref, str):
        return ref
    request = parameters.get("request")
    if isinstance(request, Mapping) and isinstance(request.get("opportunity"), str):
        return str(request["opportunity"])
    opportunity = getattr(request, "opportunity", None)
    return opportunity if isinstance(opportunity, str) else None


def _error_of(state: State[Any]) -> BaseException | None:
    try:
        value = state.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read: report that
        return exc
    return value if isinstance(value, BaseException) else None


def on_run_failed(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Prefect hook (on_failure, on_crashed): keep the reason on the bid's audit trail."""
    error = _error_of(state)
    if isinstance(error, BidError):
        return
    ref = ref_of(flow_run.parameters)
    if ref is None:
        return
    reason = f"{type(error).__name__}: {error}" if error else (state.message or str(state.name))
    try:
        record_flow_crash(current(), ref, reason, flow_run.name)
    except BidError:  # the run named no existing bid: nothing to record it on
        return


def tag_current_run(wanted: list[str]) -> None:
    """Add the bid's tags to this run when its starter could not (deployment runs, UI forms)."""
    run_context = FlowRunContext.get()
    if run_context is None or run_context.flow_run is None:
        return
    have = list(run_context.flow_run.tags)
    missing = [tag for tag in wanted if tag not in have]
    if not missing:
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.update_flow_run(run_context.flow_run.id, tags=[*have, *missing])
    run_context.flow_run.tags = [*have, *missing]
