"""Handlers of what comes in from outside: a new opportunity, its sites, a provider's
quotes. Each file arrives as contents and is read from a private temporary folder."""

from __future__ import annotations

from orchestrator.bid.facts import parse_ref
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, uploaded
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import format_ref


@handles(c.CreateOpportunity)
def _create(ctx: Context, command: c.CreateOpportunity, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.opportunity.onboarding import open_opportunity
    from orchestrator.bid.reports.queries import status
    from orchestrator.intake.opportunity import parse_opportunity

    with uploaded(command.file) as path:
        spec = parse_opportunity(path, ctx.clock().date())
        created = open_opportunity(ctx, spec, actor=actor)
    return c.Created(
        command=command.name,
        opportunity=created.ref,
        message=f"created {created.ref}",
        notes=list(created.notes),
        state=status(ctx, created.ref).state,
    )


@handles(c.ImportSites)
def _import_sites(ctx: Context, command: c.ImportSites, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.opportunity.onboarding import existing_site_ids, import_sites
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


@handles(c.ImportQuotes)
def _quotes(ctx: Context, command: c.ImportQuotes, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.quotes import import_quotes

    with uploaded(command.file) as path:
        done = import_quotes(ctx, command.opportunity, path, actor=actor)
    ref = format_ref(parse_ref(command.opportunity))
    data = done.to_json()
    if data.get("already_imported"):
        message = f"{command.file.filename} was already imported; nothing imported"
    else:
        message = f"imported {done.imported} quote(s) into {ref}"
    return c.QuotesImported(command=command.name, opportunity=ref, message=message, **data)
