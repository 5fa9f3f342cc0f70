"""Handlers of the corrections of a bid: its sites added, changed or removed from a file,
and what the customer changed (deadline, term, currency, an addendum). The files arrive as
contents; what a change does in the bid's phase comes from rules/changes.yaml."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, uploaded
from orchestrator.runtime.runner import FlowRunner

if TYPE_CHECKING:
    from orchestrator.bid.opportunity.edits import EditResult, SiteDelta
    from orchestrator.intake.site_checks import SiteRules


def _rules(ctx: Context) -> SiteRules:
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.intake.site_checks import SiteRules

    return SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))


def _delivery(ctx: Context) -> Any:
    from orchestrator.decisions.offer_rules import load_delivery

    return load_delivery(ctx.settings.rules_dir)


def _updates(ctx: Context, ref: str, path: Path) -> SiteDelta:
    from orchestrator.bid.opportunity.edits import SiteDelta, current_sites
    from orchestrator.intake.site_changes import read_site_updates

    updates = read_site_updates(path, current_sites(ctx, ref), _rules(ctx), _delivery(ctx))
    return SiteDelta(
        updates.file,
        updated=[(u.site, u.changed) for u in updates.updates],
        warnings=updates.warnings,
        exceptions=updates.exceptions,
    )


def _removals(ctx: Context, ref: str, path: Path) -> SiteDelta:
    from orchestrator.bid.opportunity.edits import SiteDelta, current_sites
    from orchestrator.intake.site_changes import read_site_removals

    return SiteDelta(str(path), removed=read_site_removals(path, current_sites(ctx, ref)))


def _additions(ctx: Context, ref: str, path: Path) -> SiteDelta:
    from orchestrator.bid.opportunity.edits import SiteDelta, current_sites
    from orchestrator.intake.opportunity import read_sites

    read = read_sites(
        path, existing_ids=current_sites(ctx, ref), rules=_rules(ctx), delivery=_delivery(ctx)
    )
    return SiteDelta(
        str(path), added=read.sites, warnings=read.warnings, exceptions=read.exceptions
    )


def edited(name: str, result: EditResult) -> dict[str, Any]:
    """An edit's answer (`EditResult`) as the fields of its result."""
    return {
        "command": name,
        "opportunity": result.ref,
        "state": result.state.value,
        "message": result.message,
        "change": result.outcome.to_json() if result.outcome else None,
        "warnings": list(result.warnings),
    }


def _sites(
    ctx: Context,
    command: c.UpdateSites | c.AddSites | c.RemoveSites,
    actor: str,
    read: Callable[[Context, str, Path], SiteDelta],
) -> c.Result:
    from orchestrator.bid.opportunity.edits import change_sites

    name = command.file.filename
    with uploaded(command.file) as path:
        read_in = read(ctx, command.opportunity, path)
        # the trail and the answer name the file as the caller called it, not the copy
        delta = replace(
            read_in,
            file=name,
            warnings=[w.replace(str(path), name) for w in read_in.warnings],
            reason=getattr(command, "reason", None),
        )
        result = change_sites(ctx, command.opportunity, delta, actor=actor)
        fields = edited(command.name, result)
        fields["warnings"] = [w.replace(str(path), name) for w in fields["warnings"]]
    return c.SitesChanged(
        **fields,
        file=name,
        added=[site.site_id for site in delta.added],
        updated=[
            {"site_id": site.site_id, "fields": list(changed)} for site, changed in delta.updated
        ],
        removed=list(delta.removed),
        counts={
            "added": len(delta.added),
            "updated": len(delta.updated),
            "removed": len(delta.removed),
        },
    )


@handles(c.UpdateSites)
def _update_sites(ctx: Context, command: c.UpdateSites, actor: str, runner: FlowRunner) -> c.Result:
    return _sites(ctx, command, actor, _updates)


@handles(c.AddSites)
def _add_sites(ctx: Context, command: c.AddSites, actor: str, runner: FlowRunner) -> c.Result:
    return _sites(ctx, command, actor, _additions)


@handles(c.RemoveSites)
def _remove_sites(ctx: Context, command: c.RemoveSites, actor: str, runner: FlowRunner) -> c.Result:
    return _sites(ctx, command, actor, _removals)


@handles(c.UpdateOpportunity)
def _update_opportunity(
    ctx: Context, command: c.UpdateOpportunity, actor: str, runner: FlowRunner
) -> c.Result:
    from contextlib import ExitStack

    from orchestrator.bid.opportunity.edits import update_opportunity

    with ExitStack() as files:
        addendum = files.enter_context(uploaded(command.addendum)) if command.addendum else None
        result = update_opportunity(
            ctx,
            command.opportunity,
            reason=command.reason,
            by=actor,
            deadline=command.deadline,
            contract_months=command.contract_months,
            currency=command.currency,
            addendum=addendum,
            incumbent=command.incumbent,
        )
    given = {
        "deadline": command.deadline.isoformat() if command.deadline else None,
        "contract_months": command.contract_months,
        "currency": command.currency,
        "addendum": command.addendum.filename if command.addendum else None,
        "incumbent": command.incumbent,
    }
    return c.OpportunityUpdated(
        **edited(command.name, result),
        reason=command.reason,
        changes={k: v for k, v in given.items() if v is not None},
    )
