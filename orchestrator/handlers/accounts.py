"""Handlers of the organisation's accounts: tiers, imports, competitors, the renewal scan.
The services check that the person (management or an admin) may do it."""

from __future__ import annotations

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, uploaded
from orchestrator.runtime.runner import FlowRunner


@handles(c.SetTier)
def _set_tier(ctx: Context, command: c.SetTier, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.customers.accounts import set_tier

    change = set_tier(ctx, command.account, command.tier, reason=command.reason, actor=actor)
    return c.TierChanged(command=command.name, **change.__dict__)


@handles(c.ImportAccounts)
def _import(ctx: Context, command: c.ImportAccounts, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.customers.accounts import import_accounts
    from orchestrator.decisions.portfolio_rules import load_portfolio_rules
    from orchestrator.intake.accounts import parse_accounts

    name = command.file.filename
    with uploaded(command.file) as path:
        rows = parse_accounts(path, load_portfolio_rules(ctx.settings.rules_dir))
        if command.dry_run:
            return c.AccountsImported(
                command=command.name,
                message=f"{len(rows)} account row(s) read (dry run: nothing changed)",
                file=name,
                counts={"rows": len(rows), "created": 0, "updated": 0, "tier_changes": 0},
            )
        done = import_accounts(ctx, rows, file=name, actor=actor)
    return c.AccountsImported(
        command=command.name,
        file=name,
        created=list(done.created),
        updated=list(done.updated),
        tier_changes=[change.__dict__ for change in done.tier_changes],
        counts={
            "rows": len(rows),
            "created": len(done.created),
            "updated": len(done.updated),
            "tier_changes": len(done.tier_changes),
        },
    )


@handles(c.RecordCompetitor)
def _competitor(
    ctx: Context, command: c.RecordCompetitor, actor: str, runner: FlowRunner
) -> c.Result:
    from orchestrator.bid.customers.accounts import record_competitor

    done = record_competitor(
        ctx,
        command.account,
        competitor=command.competitor,
        contract_end=command.contract_end,
        actor=actor,
        reason=command.reason,
    )
    return c.CompetitorRecorded(command=command.name, **done.__dict__)


@handles(c.ScanRenewals)
def _renewals(ctx: Context, command: c.ScanRenewals, actor: str, runner: FlowRunner) -> c.Result:
    from orchestrator.bid.contracting.contracts import scan_renewals

    done = scan_renewals(ctx, actor=actor)
    return c.RenewalsScanned(
        command=command.name,
        opened=[renewal.__dict__ for renewal in done.opened],
        woken=[woken.__dict__ for woken in done.woken],
    )
