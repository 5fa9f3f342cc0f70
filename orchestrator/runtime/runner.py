"""How the doors start automated work on a bid: the flow runner port.

The CLI, the Slack app and the demo never call `services.advance` in a loop themselves; they
ask the runner (carrying a bid on after an answer: through the dispatcher's `carry` effects,
`orchestrator.dispatch.drain(ctx, runner)`). The inline runner calls the services in this
process; the Prefect runner (see `orchestrator.runtime.prefect_runner`) runs the same work as
flow runs, so the Prefect UI shows it.
"""

from __future__ import annotations

from typing import Protocol

from orchestrator.bid.progress import services
from orchestrator.bid.progress.services import StepResult
from orchestrator.context import Context


class FlowRunner(Protocol):
    def advance_once(self, ctx: Context, ref: str, actor: str) -> StepResult:
        """Do the current step's automated work once."""
        ...

    def run_lifecycle(self, ctx: Context, ref: str, actor: str) -> list[StepResult]:
        """Carry the bid as far as it goes without a person."""
        ...

    def watch_deadlines(self, ctx: Context, notify: bool = True) -> dict[str, int]:
        """One deadline watch: warnings queued once per milestone and level; the board."""
        ...

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        """Carry the bid on: the dispatcher's `carry` effect, written by the handler whose
        answer (decision, last approval, result) unblocked it, runs this.

        Returns one line for the user (where the bid went, or which run was scheduled); a
        `RuntimeUnavailable` leaves the effect failed, to be retried.
        """
        ...


class InlineRunner:
    """Runs the services directly in this process (unit tests; no Prefect)."""

    def advance_once(self, ctx: Context, ref: str, actor: str) -> StepResult:
        return services.advance(ctx, ref, actor)

    def run_lifecycle(self, ctx: Context, ref: str, actor: str) -> list[StepResult]:
        return services.run_to_wait(ctx, ref, actor)

    def watch_deadlines(self, ctx: Context, notify: bool = True) -> dict[str, int]:
        from orchestrator.bid.progress.deadlines import OVERDUE, watch

        report = watch(ctx, notify=notify)
        overdue = sum(1 for row in report.board if row.status == OVERDUE)
        return {"open": len(report.board), "overdue": overdue, "queued": len(report.queued)}

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        steps = services.run_to_wait(ctx, ref, actor)
        return "; ".join(step.message for step in steps)


def get_runner(ctx: Context) -> FlowRunner:
    """The runner the settings ask for: Prefect by default, inline when BID_FLOW_RUNNER=inline."""
    if ctx.settings.flow_runner == "inline":
        return InlineRunner()
    from orchestrator.runtime.prefect_runner import PrefectRunner

    runner: FlowRunner = PrefectRunner()
    return runner
