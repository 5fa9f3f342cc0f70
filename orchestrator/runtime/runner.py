"""How the doors start automated work on a bid: the flow runner port.

The CLI, the Slack app and the demo never call `services.advance` in a loop themselves; they
ask the runner (carrying a bid on after an answer: through the dispatcher's `carry` effects,
`orchestrator.dispatch.drain(ctx, runner)`). The inline runner calls the services in this
process; the Prefect runner (see `orchestrator.runtime.prefect_runner`) runs the same work as
flow runs, so the Prefect UI shows it.
"""

from __future__ import annotations

import atexit
import sys
from typing import Protocol

from orchestrator.bid.progress import services
from orchestrator.bid.progress.services import StepResult
from orchestrator.context import Context
from orchestrator.errors import BidError


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

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        """Publish the bid's Bid Control Plan where people look (the Prefect UI's artifact);
        the dispatcher's `render` effect calls it after every change. None: nowhere to."""
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

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        return None  # no Prefect: the plan is in the bid's documents


_SPAWNED: list[bool] = []
"""Set once this process started its folder's service: never two from one process."""
_TOLD: list[bool] = []
"""Set once this process said its steps run here: said once, however many runners."""


class HandOverRunner:
    """The first command of a folder whose service does not run yet: it does its own step
    here (inline) instead of waiting 20-30 s for a Prefect server to boot, and starts the
    service in the background as it ends; the commands after it find the service up and run
    their steps as Prefect flow runs (the hand-over). Once the folder's service answers (or
    PREFECT_API_URL is set) it is the Prefect runner. The choice is made at the first step,
    not before: a command that runs no step starts nothing."""

    def __init__(self, start_service: bool = True) -> None:
        self.start_service = start_service
        """False: start no service (`bid demo` without --keep-server leaves none behind)."""
        self._chosen: FlowRunner | None = None

    def _runner(self, ctx: Context) -> FlowRunner:
        if self._chosen is None:
            self._chosen = self._choose(ctx)
        return self._chosen

    def _choose(self, ctx: Context) -> FlowRunner:
        from orchestrator.runtime import prefect_env, service
        from orchestrator.runtime.prefect_runner import PrefectRunner

        settings = ctx.settings
        answering = prefect_env.answers_for(settings, prefect_env.local_api_url(settings))
        if answering or prefect_env.active() is not None:
            return PrefectRunner()
        if self.start_service and not _SPAWNED and service.read_info(settings) is None:
            # started as this command ends: its Python processes would otherwise take the
            # CPU this command's step needs (two cores: ~3 s more)
            atexit.register(service.spawn, settings, _say)
            _SPAWNED.append(True)
        if self.start_service and not _TOLD:
            _TOLD.append(True)
            sys.stderr.write(
                "this step runs here; this folder's service starts in the background, and the "
                "next commands run their steps as Prefect flow runs once it is up "
                "(`bid server status`)\n"
            )
        return InlineRunner()

    def advance_once(self, ctx: Context, ref: str, actor: str) -> StepResult:
        return self._runner(ctx).advance_once(ctx, ref, actor)

    def run_lifecycle(self, ctx: Context, ref: str, actor: str) -> list[StepResult]:
        return self._runner(ctx).run_lifecycle(ctx, ref, actor)

    def watch_deadlines(self, ctx: Context, notify: bool = True) -> dict[str, int]:
        return self._runner(ctx).watch_deadlines(ctx, notify)

    def continue_bid(self, ctx: Context, ref: str, actor: str) -> str:
        return self._runner(ctx).continue_bid(ctx, ref, actor)

    def publish_plan(self, ctx: Context, ref: str) -> str | None:
        """To the folder's Prefect once it answers; a render starts no service."""
        if self._chosen is not None:
            return self._chosen.publish_plan(ctx, ref)
        from orchestrator.runtime import prefect_env

        if not prefect_env.answers_for(ctx.settings, prefect_env.local_api_url(ctx.settings)):
            return None
        from orchestrator.runtime.prefect_runner import PrefectRunner

        return PrefectRunner().publish_plan(ctx, ref)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def get_runner(ctx: Context) -> FlowRunner:
    """The runner the settings ask for: Prefect by default, inline when BID_FLOW_RUNNER=inline;
    on a laptop whose folder has no service answering yet, the hand-over runner (it starts the
    service in the background and runs this command's step here)."""
    if ctx.settings.flow_runner == "inline":
        return InlineRunner()
    settings = ctx.settings
    if settings.autostart and not settings.prefect_api_url:
        return HandOverRunner()
    from orchestrator.runtime.prefect_runner import PrefectRunner

    runner: FlowRunner = PrefectRunner()
    return runner


def warm_up(ctx: Context) -> None:
    """Load, before the first request, what the first bid would otherwise pay for: the
    document renderer and, when steps run on Prefect, Prefect's modules and clients. A
    long-lived process (the Slack app, a task worker) then answers its first click or task
    as fast as its hundredth, and no two of its threads import Prefect at once.

    Also the libraries every bid's steps load on first use: Slack's client (delivering
    messages), the public-holiday tables (planning dates) and the rules engine; in a task
    worker they were 8-12 % of its CPU for the first twenty bids.

    And what each of them then read or compiled on first use (another 0.4 CPU-s a process,
    measured on a bid's every step): the .docx and message templates prepared, the rules'
    tables and YAML files read, this year's and next year's public holidays of the home
    country; and the database models' mappings, which SQLAlchemy completes at the first
    query. A file that cannot be read here is skipped: it fails where it is used, naming
    the bid, as it did before."""
    documents = ctx.documents  # made on first use: the templates' renderer
    import holidays  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    configure_mappers()  # the models' mappings, done at the first query otherwise

    import orchestrator.decisions.engine
    import orchestrator.slack.notify  # noqa: F401

    prepare = getattr(documents, "warm_up", None)
    if prepare is not None:
        prepare()
    _read_rules(ctx)
    runner = get_runner(ctx)
    warm = getattr(runner, "warm_up", None)
    if warm is not None:
        warm(ctx)


def _read_rules(ctx: Context) -> None:
    """The rules' files read and the message templates compiled, ahead of the first bid."""
    from orchestrator.commercial.calendar import working_days_warm
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions import duties, offer_rules, production_rules
    from orchestrator.slack import messages

    rules_dir = ctx.settings.rules_dir
    reload = getattr(ctx.rules, "reload", None)
    if reload is not None:
        reload()  # the decision tables; a broken one is kept in its load errors
    loaders = (
        catalogue_for,
        offer_rules.load_proposal_rules,
        production_rules.load_exit_rules,
        production_rules.load_change_table,
        duties.load_duties,
    )
    for load in loaders:
        try:
            load(rules_dir)
        except (BidError, OSError, ValueError):  # reported where it is used
            continue
    messages.warm_up(ctx.settings.templates_dir)
    try:  # delivery.yaml: read here once, for the home country's holidays too
        home = offer_rules.load_delivery(rules_dir).home_country
    except (BidError, OSError, ValueError):  # reported where it is used
        return
    working_days_warm(home, ctx.clock().date().year)
