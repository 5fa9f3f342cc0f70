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
Problems in them are reported under the name the caller gave the file (`uploaded`,
`renamed`). The handlers live in `orchestrator.handlers`, one module per use case; importing
them here registers them (`orchestrator.handlers.registry`).
"""

from __future__ import annotations

from orchestrator.bid.team.people import act_for
from orchestrator.bid.trail.recording import recorded_by
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.errors import InputError
from orchestrator.handlers import (  # noqa: F401 - imported so that their handlers register
    accounts,
    design,
    documents,
    edits,
    intake,
    lifecycle,
    offer,
    people,
    production,
    rfp,
    submission,
)
from orchestrator.handlers.registry import CALLER, HANDLERS, handled, renamed, uploaded
from orchestrator.runtime.runner import FlowRunner, get_runner
from orchestrator.store.models import Person

__all__ = ["dispatch", "handled", "renamed", "settle", "uploaded"]


def dispatch(
    ctx: Context,
    command: c.Command,
    caller: Person,
    *,
    runner: FlowRunner | None = None,
    settle_effects: bool = True,
) -> c.Result:
    """Run `command` for `caller` (the person whose token or session sent it).

    With `settle_effects` (the default) the effects it committed run before it answers; a
    door that must answer its caller first (Slack acknowledges a click at once) passes False
    and drains them itself right after."""
    handler = HANDLERS.get(type(command))
    if handler is None:  # pragma: no cover - every command in COMMANDS has a handler (tested)
        raise InputError(f"unknown command {command.name!r}")
    by = getattr(command, "by", None)
    who = act_for(ctx, caller, by)
    carrier = runner or get_runner(ctx)
    token = CALLER.set(caller)
    try:
        with recorded_by(who.recorder, who.actor):
            result = handler(ctx, command, who.actor, carrier)
    finally:
        CALLER.reset(token)
    return _settled(ctx, result, carrier) if settle_effects else result


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
