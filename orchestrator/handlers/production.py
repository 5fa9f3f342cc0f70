"""Handlers of bid production: freezing the design, the terms the customer asks for, the
prices; each change reopens what it must (the services decide, rules/changes.yaml says)."""

from __future__ import annotations

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, moved
from orchestrator.runtime.runner import FlowRunner


@handles(c.FreezeDesign)
def _freeze(ctx: Context, command: c.FreezeDesign, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.facts import get_opportunity
    from orchestrator.bid.producing.production import freeze_design
    from orchestrator.store.db import reading

    step = freeze_design(ctx, command.opportunity, by=actor, note=command.note)
    with reading(ctx.engine) as session:
        frozen = get_opportunity(session, step.ref)
        version, is_frozen = frozen.design_version, frozen.design_frozen
    done = moved(command.name, step).model_dump()
    return c.Frozen(**done, design_version=version, design_frozen=is_frozen, note=command.note)


@handles(c.SetTerms)
def _terms(ctx: Context, command: c.SetTerms, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.terms import set_deviations

    step = set_deviations(ctx, command.opportunity, list(command.deviations), by=actor)
    return c.TermsSet(**moved(command.name, step).model_dump(), deviations=command.deviations)


@handles(c.SetPricing)
def _pricing(ctx: Context, command: c.SetPricing, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.terms import set_pricing

    changes = command.changes()
    step = set_pricing(ctx, command.opportunity, changes, by=actor, reason=command.reason)
    return c.Changed(**moved(command.name, step).model_dump(), changes=changes)
