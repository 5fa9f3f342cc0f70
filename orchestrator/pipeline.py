"""The one way in: `dispatch(ctx, command, caller)` runs a typed command for a person.

Every door — the CLI (in this process or through the local service), the JSON API, and next
the web workspace — hands its command here; none of them decides what follows an answer.
The handler checks who acts (`act_for`: the caller, or with `by` the person an admin or
recorder records for) and calls the bid's service function, which commits in ONE transaction
the state, its audit event, the decision records, the notifications and the effects (render
the documents; carry the bid on, written only by the service whose answer unblocked it).
Then the one dispatcher (`orchestrator.dispatch.drain`) runs the effects, and the handler's
typed result — with what carrying on did, and any effect's failure as a warning — goes back
to the door, which prints or returns it.

Files arrive as contents (`FileUpload`): they are written to a private temporary folder and
read from there, so no caller can make a service open a path with the service's rights.
Problems in them are reported under the name the caller gave the file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.bid.facts import StepResult, parse_ref
from orchestrator.bid.people import act_for
from orchestrator.bid.recording import recorded_by
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import InputError, InputErrors, NotFound
from orchestrator.runtime.runner import FlowRunner, get_runner
from orchestrator.store.models import Person, format_ref

C = TypeVar("C", bound=c.Command)
Handler = Callable[[Context, Any, str, FlowRunner], c.Result]

_HANDLERS: dict[type[c.Command], Handler] = {}
_CALLER: ContextVar[str] = ContextVar("pipeline_caller", default="")
"""The person who sent the command being handled (an override is theirs, not `by`'s)."""


def handles(kind: type[C]) -> Callable[[Callable[[Context, C, str, FlowRunner], c.Result]], Any]:
    def register(handler: Callable[[Context, C, str, FlowRunner], c.Result]) -> Any:
        _HANDLERS[kind] = handler
        return handler

    return register


def dispatch(
    ctx: Context, command: c.Command, caller: Person, *, runner: FlowRunner | None = None
) -> c.Result:
    """Run `command` for `caller` (the person whose token or session sent it)."""
    handler = _HANDLERS.get(type(command))
    if handler is None:  # pragma: no cover - every command in COMMANDS has a handler (tested)
        raise InputError(f"unknown command {command.name!r}")
    by = getattr(command, "by", None)
    who = act_for(ctx, caller, by)
    carrier = runner or get_runner(ctx)
    token = _CALLER.set(caller.email)
    try:
        with recorded_by(who.recorder, who.actor):
            result = handler(ctx, command, who.actor, carrier)
    finally:
        _CALLER.reset(token)
    return _settled(ctx, result, carrier)


def _settled(ctx: Context, result: c.Result, runner: FlowRunner) -> c.Result:
    """The result with what the effects the command committed did (see `settle`)."""
    if result.opportunity is None:
        settle(ctx, None, runner)
        return result
    carried, warnings = settle(ctx, result.opportunity, runner)
    updates: dict[str, object] = {}
    if warnings and hasattr(result, "warnings"):
        updates["warnings"] = [*result.warnings, *warnings]
    elif warnings:
        updates["notes"] = [*result.notes, *warnings]
    if carried is not None and hasattr(result, "carried_on"):
        updates["carried_on"] = carried
    return result.model_copy(update=updates) if updates else result


def settle(
    ctx: Context, ref: str | None, runner: FlowRunner | None = None
) -> tuple[c.CarriedOn | None, list[str]]:
    """Run the effects committed so far (and any others due): documents rendered, bids
    carried on where a handler said so, notifications delivered. A command stands whatever
    they do; for bid `ref` this says whether it was carried on, and a failure as a warning
    (`bid status` shows it until a retry succeeds)."""
    from orchestrator.core.effects import EffectKind
    from orchestrator.dispatch import drain

    report = drain(ctx, runner or get_runner(ctx))
    carried = None
    warnings: list[str] = []
    for outcome in report.done:
        if outcome.ref == ref and outcome.kind == EffectKind.CARRY:
            waits = outcome.message.startswith("waits: ")
            carried = c.CarriedOn(
                continued=None if waits else outcome.message or None,
                waiting=outcome.message.removeprefix("waits: ") if waits else None,
            )
    for outcome in report.failed:
        if outcome.ref != ref:
            continue
        if outcome.kind == EffectKind.CARRY:
            carried = c.CarriedOn(stopped=outcome.message)
        again = "it is tried again" if outcome.retry else f"bid resume {ref} tries it again"
        warnings.append(
            f"{ref}: recorded, but the {outcome.kind.value} after it failed "
            f"({outcome.message}); {again}"
        )
    return carried, warnings


def handled() -> frozenset[str]:
    """The names of the commands with a handler."""
    return frozenset(kind.name for kind in _HANDLERS)


# --- files as contents ------------------------------------------------------------------------


@contextmanager
def uploaded(upload: c.FileUpload) -> Iterator[Path]:
    """The upload as a file in a private temporary folder (mode 0700), removed afterwards;
    problems found in it name the file as the caller called it."""
    with tempfile.TemporaryDirectory(prefix="bid-upload-") as folder:
        path = Path(folder) / upload.filename
        path.write_bytes(upload.content())
        try:
            yield path
        except InputError as error:
            raise renamed(error, str(path), upload.filename) from None


def renamed(error: InputError, path: str, name: str) -> InputError:
    """`error` with the file `path` called `name` (the door shows the name its user knows)."""
    if isinstance(error, InputErrors):
        problems = [renamed(problem, path, name) for problem in error.problems]
        return InputErrors(_rename(error.file, path, name) or name, problems, outcome=error.outcome)
    if type(error) in (InputError, NotFound) and error.file:
        return type(error)(
            error.detail, file=_rename(error.file, path, name), row=error.row, field=error.field
        )
    return error


def _rename(file: str | None, path: str, name: str) -> str | None:
    return name if file == path else file


# --- carrying a bid on, decided once, here ------------------------------------------------------


def _moved(name: str, step: StepResult) -> c.Moved:
    return c.Moved(
        command=name,
        opportunity=step.ref,
        message=step.message,
        from_state=step.from_state.value,
        state=step.to_state.value,
        moved=step.moved,
        recorded=step.recorded,
        waiting_for=step.waiting_for,
        documents=list(step.documents),
    )


# --- handlers ---------------------------------------------------------------------------------


@handles(c.CreateOpportunity)
def _create(ctx: Context, command: c.CreateOpportunity, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.onboarding import open_opportunity
    from orchestrator.intake.opportunity import parse_opportunity

    with uploaded(command.file) as path:
        spec = parse_opportunity(path, ctx.clock().date())
        created = open_opportunity(ctx, spec, actor=actor)
    from orchestrator.bid.queries import status

    return c.Created(
        command=command.name,
        opportunity=created.ref,
        message=f"created {created.ref}",
        notes=list(created.notes),
        state=status(ctx, created.ref).state,
    )


@handles(c.ImportSites)
def _import_sites(ctx: Context, command: c.ImportSites, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.onboarding import existing_site_ids, import_sites
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.opportunity import read_sites
    from orchestrator.intake.site_checks import SiteRules

    existing = existing_site_ids(ctx, command.opportunity)
    with uploaded(command.file) as path:
        read = read_sites(
            path,
            existing_ids=existing,
            rules=SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir)),
            delivery=load_delivery(ctx.settings.rules_dir),
        )
        warnings = [w.replace(str(path), command.file.filename) for w in read.warnings]
        count = import_sites(ctx, command.opportunity, read.sites, actor=actor, warnings=warnings)
    ref = format_ref(parse_ref(command.opportunity))
    return c.SitesImported(
        command=command.name,
        opportunity=ref,
        message=f"imported {count} sites into {ref}",
        count=count,
        warnings=warnings,
    )


@handles(c.Advance)
def _advance(ctx: Context, command: c.Advance, actor: str, runner: FlowRunner) -> c.Result:
    return _moved(command.name, runner.advance_once(ctx, command.opportunity, actor))


@handles(c.Decide)
def _decide(ctx: Context, command: c.Decide, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.services import decide

    step = decide(
        ctx,
        command.opportunity,
        outcome=command.outcome,
        by=actor,
        reason=command.reason,
        category=command.category,
    )
    return _moved(command.name, step)


@handles(c.Approve)
def _approve(ctx: Context, command: c.Approve, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.services import approve

    step = approve(
        ctx,
        command.opportunity,
        area=command.area,
        by=actor,
        reject=command.reject,
        reason=command.reason,
        proposal_hash=command.version,
        request_id=command.request_id,
        fingerprint=command.fingerprint,
        override_duties=command.override_duties,
        override_by=_CALLER.get() if command.override_duties else None,
    )
    return _moved(command.name, step)


@handles(c.SetStrategy)
def _strategy(ctx: Context, command: c.SetStrategy, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.services import set_strategy

    return _moved(command.name, set_strategy(ctx, command.opportunity, text=command.text, by=actor))


@handles(c.FreezeDesign)
def _freeze(ctx: Context, command: c.FreezeDesign, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.facts import get_opportunity
    from orchestrator.bid.production import freeze_design
    from orchestrator.store.db import reading

    step = freeze_design(ctx, command.opportunity, by=actor, note=command.note)
    with reading(ctx.engine) as session:
        frozen = get_opportunity(session, step.ref)
        version, is_frozen = frozen.design_version, frozen.design_frozen
    moved = _moved(command.name, step).model_dump()
    return c.Frozen(**moved, design_version=version, design_frozen=is_frozen, note=command.note)


@handles(c.ImportQuotes)
def _quotes(ctx: Context, command: c.ImportQuotes, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.quotes import import_quotes

    with uploaded(command.file) as path:
        done = import_quotes(ctx, command.opportunity, path, actor=actor)
    ref = format_ref(parse_ref(command.opportunity))
    data = done.to_json()
    if data.get("already_imported"):
        message = f"{command.file.filename} was already imported; nothing imported"
    else:
        message = f"imported {done.imported} quote(s) into {ref}"
    return c.QuotesImported(command=command.name, opportunity=ref, message=message, **data)


@handles(c.RecordResult)
def _result(ctx: Context, command: c.RecordResult, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid import outcomes

    if command.outcome == "shortlisted":
        step = outcomes.shortlist(ctx, command.opportunity, by=actor, reason=command.reason)
    elif command.outcome == "bafo":
        step = outcomes.request_bafo(
            ctx,
            command.opportunity,
            reason=command.reason or "",
            by=actor,
            deadline=command.deadline,
        )
    else:
        step = outcomes.record_result(
            ctx,
            command.opportunity,
            won=command.outcome == "won",
            reason=command.reason or "",
            by=actor,
            category=command.category,
            competitor=command.competitor,
            price_gap_pct=command.price_gap,
            competitor_contract_end=command.competitor_contract_end,
        )
    return c.Answered(**_moved(command.name, step).model_dump(), outcome=command.outcome)


@handles(c.Withdraw)
def _withdraw(ctx: Context, command: c.Withdraw, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.outcomes import withdraw

    step = withdraw(
        ctx,
        command.opportunity,
        reason=command.reason,
        by=actor,
        category=command.category,
        wake_up=command.wake_up,
    )
    return c.Answered(**_moved(command.name, step).model_dump(), category=command.category)
