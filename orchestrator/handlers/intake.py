"""Handlers of what comes in from outside: a new opportunity, its sites, a provider's
quotes. Each file arrives as contents and is read from a private temporary folder."""

from __future__ import annotations

from orchestrator.bid.facts import parse_ref
from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import findings_out, handles, uploaded
from orchestrator.runtime.runner import FlowRunner
from orchestrator.store.models import format_ref


@handles(c.CreateOpportunity)
def _create(ctx: Context, command: c.CreateOpportunity, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.opportunity.onboarding import open_opportunity
    from orchestrator.bid.reports.queries import status
    from orchestrator.intake.opportunity import parse_opportunity

    with uploaded(command.file) as path:
        spec = parse_opportunity(path, ctx.clock().date())
        if command.dry_run:
            return c.Created(
                command=command.name,
                message=f"{command.file.filename} is a valid opportunity for "
                f"{spec.account.name} (dry run: nothing created)",
                state="",
            )
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
    from orchestrator.bid.opportunity.onboarding import (
        check_sites_allowed,
        existing_site_ids,
        import_sites,
    )
    from orchestrator.commercial.quotes import catalogue_for
    from orchestrator.decisions.offer_rules import load_delivery
    from orchestrator.intake.files import MAX_CSV_BYTES
    from orchestrator.intake.opportunity import SITE_COLUMNS, read_sites
    from orchestrator.intake.site_checks import SiteRules
    from orchestrator.intake.workbooks import read_table

    existing = existing_site_ids(ctx, command.opportunity)
    with uploaded(command.file) as path:
        read = read_sites(
            path,
            existing_ids=existing,
            rules=SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir)),
            delivery=load_delivery(ctx.settings.rules_dir),
            table=read_table(
                path, required=SITE_COLUMNS, sheet=command.sheet, max_bytes=MAX_CSV_BYTES
            ),
        )
        warnings = [w.replace(str(path), command.file.filename) for w in read.warnings]
        findings = findings_out(read.exceptions, path, command.file.filename)
        if command.dry_run:
            check_sites_allowed(ctx, command.opportunity)
            count = len(read.sites)
        else:
            count = import_sites(
                ctx,
                command.opportunity,
                read.sites,
                actor=actor,
                warnings=warnings,
                exceptions=read.exceptions,
            )
    ref = format_ref(parse_ref(command.opportunity))
    verb = "would import" if command.dry_run else "imported"
    flagged = f"; {len(findings):,} exception(s) for a person (design tasks)" if findings else ""
    return c.SitesImported(
        command=command.name,
        opportunity=ref,
        message=f"{verb} {count} sites into {ref}{flagged}"
        + (" (dry run: nothing changed)" if command.dry_run else ""),
        count=count,
        warnings=warnings,
        dry_run=command.dry_run,
        findings=findings,
        counts=c.finding_counts(findings),
    )


@handles(c.ImportQuotes)
def _quotes(ctx: Context, command: c.ImportQuotes, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.producing.quotes import import_quotes

    with uploaded(command.file) as path:
        done = import_quotes(ctx, command.opportunity, path, actor=actor, dry_run=command.dry_run)
        findings = findings_out(done.outliers, path, command.file.filename)
    ref = format_ref(parse_ref(command.opportunity))
    data = {**done.to_json(), "findings": findings}
    if data.get("already_imported"):
        message = f"{command.file.filename} was already imported; nothing imported"
    else:
        verb = "would import" if command.dry_run else "imported"
        message = f"{verb} {done.imported} quote(s) into {ref}"
        if findings:
            message += (
                f"; {len(findings):,} outlier(s) wait for bid quotes accept|requote "
                "(counted as missing meanwhile)"
            )
        if command.dry_run:
            message += " (dry run: nothing changed)"
    return c.QuotesImported(command=command.name, opportunity=ref, message=message, **data)
