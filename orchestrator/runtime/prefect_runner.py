"""The flow runner on Prefect: every automated step is a named, tagged flow run.

Where the runs go is decided by `orchestrator.runtime.prefect_env` (a real server, the local
`bid ui` server, or Prefect's temporary server over the project's data). The runs execute in
this process with this process's context, so `bid advance` prints the step's result; only an
answer to a waiting bid may instead go to the workers of a server (`continue_bid`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from rich.console import Console

from orchestrator.bid.progress.services import StepResult
from orchestrator.context import Context
from orchestrator.dispatch import HandedOver
from orchestrator.errors import BidError, DeploymentMissing, RuntimeUnavailable
from orchestrator.runtime import prefect_env
from orchestrator.runtime.prefect_env import PrefectMode, PrefectTarget

T = TypeVar("T")

LIFECYCLE_DEPLOYMENT = "bid-lifecycle/Carry a bid on"
"""`<flow>/<deployment>` of the lifecycle (flows/deployments.py, DEPLOYMENT_TITLES)."""


def start_temporary_server(target: PrefectTarget, console: Console) -> None:
    """Start Prefect's temporary server for this process (once), with a progress line."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    if server.running:
        return
    message = (
        "starting Prefect (first run sets up its database, ~10 s)…"
        if target.fresh_home
        else "starting Prefect's temporary server…"
    )
    with console.status(message):
        server.start()


_SCOPED: dict[str | None, Any] = {}


@contextmanager
def prefect_scope(target: PrefectTarget) -> Iterator[None]:
    """Prefect settings for runs of this process: the target's API, and no heartbeat.

    A flow run's heartbeat thread is joined at the end of every run (~1 s each); short,
    in-process runs do not need it to be detected as crashed.
    """
    import prefect.context

    settings = _SCOPED.get(target.api_url)
    if settings is None:
        # Building Prefect's settings object costs ~0.2 s; it is built once per target and
        # entered per run (the settings context is per thread, like the CLI service's).
        from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY

        updates: dict[object, object] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        if target.api_url:
            updates[PREFECT_API_URL] = target.api_url
        current = prefect.context.get_settings_context()
        settings = _SCOPED[target.api_url] = current.settings.copy_with_update(updates=updates)  # type: ignore[arg-type]
    current = prefect.context.get_settings_context()
    with prefect.context.SettingsContext(profile=current.profile, settings=settings):
        yield


class RefusalsOffTheConsole(logging.Filter):
    """A refused step (`BidError`: a guard said no) reaches the user as one line from the
    door; Prefect's console handler would print it again, with a traceback. The run's own
    log on the server (the UI) keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, BidError)


def quiet_refusals_on_the_console() -> None:
    """Add `RefusalsOffTheConsole` to Prefect's console handlers (once), setting Prefect's
    logging up first if this process has not yet."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    for logger in (logging.getLogger(), logging.getLogger("prefect")):
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and not any(
                isinstance(f, RefusalsOffTheConsole) for f in handler.filters
            ):
                handler.addFilter(RefusalsOffTheConsole())


_WARMING = threading.RLock()
_WARM: set[str] = set()
"""The kinds of work (`PrefectRunner.run`) that have run once in this process."""


class PrefectRunner:
    """Runs the step flows in this process against the chosen Prefect server."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def _prepare(self, ctx: Context) -> PrefectTarget:
        target = prefect_env.configure(ctx.settings)
        if target.mode == PrefectMode.TEMPORARY:
            start_temporary_server(target, self.console)
        return target

    def run(self, ctx: Context, work: Callable[[], T]) -> T:
        """Configure Prefect (before importing it), then run `work` with `ctx` bound.

        The first run of each kind of work in a process runs alone: Prefect imports much of
        itself lazily, and two threads of a door (the Slack app's pool) importing the same
        modules for the first time at once can end in Python's import deadlock error (seen
        as "plan not published (_DeadlockError)")."""
        kind = getattr(work, "__qualname__", "work")
        if kind in _WARM:
            return self._run(ctx, work)
        with _WARMING:
            result = self._run(ctx, work)
            _WARM.add(kind)
        return result

    def _run(self, ctx: Context, work: Callable[[], T]) -> T:
        target = self._prepare(ctx)
        from flows.context import bound
        from orchestrator.runtime import prefect_fixes

        prefect_fixes.apply()
        quiet_refusals_on_the_console()
        with bound(ctx), prefect_scope(target):
            return work()

    def warm_up(self, ctx: Context) -> None:
        """Import the flows and Prefect's pieces the hand-overs and the plan use (once), and
        make a client: its TLS context is built once per process (`prefect_fixes`)."""

        def work() -> None:
            import prefect.artifacts
            import prefect.task_engine
            import prefect.task_worker  # noqa: F401  - what a hand-over (`delay`) imports
            from prefect.client.orchestration import get_client

            import flows.deadline_watch
            import flows.steps
            import flows.tasks  # noqa: F401

            get_client(sync_client=True)  # made, not opened: no request
            with suppress(ImportError):  # anyio's backend, loaded at first use
                importlib.import_module("anyio._backends._asyncio")

        self.run(ctx, work)

    def advance_once(self, ctx: Context, ref: str, actor: str) -> StepResult:
        def work() -> StepResult:
            from flows.context import bid_labels
            from flows.steps import run_step

            return run_step(bid_labels(ctx, ref), actor)

        return self.run(ctx, work)

    def run_lifecycle(self, ctx: Context, ref: str, actor: str) -> list[StepResult]:
        def work() -> list[StepResult]:
            from prefect import tags

            from flows.context import bid_labels
            from flows.steps import bid_lifecycle

            labels = bid_labels(ctx, ref)
            with tags(*labels.tags("lifecycle")):
                return bid_lifecycle(ref=labels.ref, actor=actor)

        return self.run(ctx, work)

    def watch_deadlines(self, ctx: Context, notify: bool = True) -> dict[str, int]:
        """One `deadline-watch` run: warnings queued, board and plans published as artifacts."""

        def work() -> dict[str, int]:
            from flows.deadline_watch import deadline_watch

            return deadline_watch(notify=notify)

        return self.run(ctx, work)

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        """The bid's Bid Control Plan as its `bid-control-plan-<id>` table artifact, on a
        server people look at: PREFECT_API_URL's or the folder's service (never a temporary
        server started for it: nobody sees that one, and it costs seconds a move)."""
        target = prefect_env.active()
        if target is None:
            settings = ctx.settings
            local = prefect_env.local_api_url(settings)
            if not settings.prefect_api_url and not prefect_env.answers_for(settings, local):
                return None
        elif target.mode == PrefectMode.TEMPORARY:
            from prefect.server.api.server import SubprocessASGIServer

            if not SubprocessASGIServer().running:
                return None

        def work() -> str:
            from flows.deadline_watch import publish_control_plan

            publish_control_plan(ref)
            return "plan published"

        return self.run(ctx, work)

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        """Start the next run after a person answered: on the workers, or here."""
        dispatch = ctx.settings.flow_dispatch
        target = self._prepare(ctx)
        if dispatch == "tasks":
            try:
                return self.run(ctx, lambda: start_on_task_workers(ctx, ref, actor))
            except BidError:
                raise
            except Exception as error:  # the server did not take the task: say so, lose nothing
                raise RuntimeUnavailable(
                    f"{ref}: recorded, but the task workers could not be reached "
                    f"({type(error).__name__}: {str(error)[:120]}); the carry-on is retried by "
                    "the dispatcher (`bid resume`, or the scheduled effects-drain flow) once "
                    "Prefect answers again"
                ) from error
        if dispatch == "deployment" or (dispatch == "auto" and target.mode == PrefectMode.SERVER):
            started = self.run(ctx, lambda: start_on_workers(ctx, ref, actor))
            if started is not None:
                return started
            if dispatch == "deployment":
                raise DeploymentMissing(
                    f"no deployment {LIFECYCLE_DEPLOYMENT} on {target.api_url}: start the "
                    "workers with `bid serve-flows` (or deploy deploy/prefect.yaml)"
                )
        steps = self.run_lifecycle(ctx, ref, actor)
        return "; ".join(step.message for step in steps)


def start_on_task_workers(ctx: Context, ref: str, actor: str) -> str:
    """Hand the bid to the task workers (`bid task-worker`): a `carry-bid` background task."""
    from flows.context import bid_labels
    from flows.tasks import carry_bid

    labels = bid_labels(ctx, ref)
    future = carry_bid.with_options(tags=labels.tags("lifecycle")).delay(
        ref=labels.ref, actor=actor
    )
    from orchestrator.slack.notify import running_in

    running_in(ctx.settings, labels.ref, str(future.task_run_id))  # this door's messages link it
    return HandedOver(f"{labels.ref}: handed to the task workers (task run {future.task_run_id})")


def start_on_workers(ctx: Context, ref: str, actor: str) -> str | None:
    """Schedule a `bid-lifecycle` run of the deployment; None when the server has none."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    from flows.context import bid_labels

    labels = bid_labels(ctx, ref)
    try:
        run = run_deployment(
            LIFECYCLE_DEPLOYMENT,
            parameters={"ref": labels.ref, "actor": actor},
            timeout=0,
            tags=labels.tags("lifecycle"),
        )
    except ObjectNotFound:
        return None
    name = getattr(run, "name", "?")  # sync call: a FlowRun (typed as FlowRun | coroutine)
    return HandedOver(f"{labels.ref}: flow run '{name}' scheduled on the workers")
