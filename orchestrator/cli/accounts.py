"""CLI commands of the customer portfolio: `account show|list|set-tier|import|competitor`,
`portfolio [review]`, `contract list` and `renewals scan`.

Thin: reads go through `funnel.accounts` / `funnel.portfolio` in a read-only session,
changes through the `bid` services (`accounts`, `portfolio`, `contracts`); people get a
table, machines `--json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli.intake import DryRunOption, ProblemsOption
from orchestrator.cli.output import Result, emit, esc, print_json, table
from orchestrator.context import Context
from orchestrator.errors import InputError
from orchestrator.store.db import reading

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who acts (default: you; others: admins and recorders)."),
]
console = Console(highlight=False)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a date like 2027-06-30", field=field) from None


def _print_account(view: dict[str, Any]) -> None:
    console.print(
        f"[bold]{esc(view['name'])}[/] — {view['tier']}"
        + (f", {esc(view['country'])}" if view["country"] else "")
        + (f", owner {esc(view['owner'])}" if view["owner"] else "")
        + (f", part of {esc(view['parent'])}" if view["parent"] else "")
    )
    segment = [view[k] for k in ("customer_profile", "purchasing_process", "external_influences")]
    console.print(
        f"segment: {esc(' / '.join(s or '—' for s in segment))}; service level "
        f"{esc(view['service_level'] or '—')}; "
        f"potential {_money(view['potential_revenue_eur'])} EUR"
    )
    if view["competitor"]:
        console.print(
            f"competitor: {esc(view['competitor'])}, contract ends "
            f"{view['competitor_contract_end'] or '—'}"
        )
    if view["sleeping_until"]:
        console.print(f"sleeping until {view['sleeping_until']}")
    if len(view["group"]) > 1:
        console.print(
            table(
                "Group",
                ("company", "tier", "active contracts"),
                [
                    ("  " * c["depth"] + c["name"], c["tier"], c["active_contracts"])
                    for c in view["group"]
                ],
            )
        )
        if view["openings"]:
            console.print(
                "openings in the group (no contract yet): "
                + ", ".join(esc(n) for n in view["openings"])
            )
    if view["contracts"]:
        console.print(
            table(
                "Contracts",
                ("contract", "bid", "start", "end", "monthly", "EUR/month", "sites", "renewal"),
                [
                    (
                        c["ref"],
                        c["opportunity"],
                        c["start_date"],
                        c["end_date"],
                        f"{c['monthly_recurring']:,.2f} {c['currency']}",
                        f"{c['monthly_recurring_eur']:,.2f}",
                        c["sites"],
                        c["renewal"] or "—",
                    )
                    for c in view["contracts"]
                ],
            )
        )
    if view["bids"]:
        console.print(
            table(
                "Bids",
                ("id", "state", "source", "title"),
                [(b["id"], b["state"], b["source"], b["title"]) for b in view["bids"]],
            )
        )
    console.print(
        table(
            "Tier history",
            ("at", "by", "from", "to", "reason"),
            [
                (t["at"][:16], t["actor"], t["from_tier"] or "—", t["to_tier"], t["reason"] or "")
                for t in view["tier_history"]
            ],
        )
    )
    for s in view["open_suggestions"]:
        console.print(
            f"suggested move {s['id']}: {s['from_tier']} → {s['to_tier']} ({esc(s['reason'])}); "
            f"bid portfolio review --accept {s['id']} --reason ..."
        )


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `account`, `portfolio`, `contract` and `renewals` to the `bid` command."""
    account_app = typer.Typer(
        help="Accounts: show, list, set the tier, import.", no_args_is_help=True
    )
    app.add_typer(account_app, name="account", rich_help_panel="Accounts")

    @account_app.command("show")
    def account_show(
        name: Annotated[str, typer.Argument(help="The account's name (case and accents ignored)")],
        as_json: JsonOption = False,
    ) -> None:
        """One account: its group, segment, tier history, contracts, bids and suggestions."""
        from orchestrator.funnel.accounts import account_view

        ctx = get_context()
        with reading(ctx.engine) as session:
            view = account_view(session, name, ctx.clock().date()).as_dict()
        if as_json:
            print_json(view)
            return
        _print_account(json.loads(json.dumps(view, default=str)))

    @account_app.command("list")
    def account_list(
        tier: Annotated[str | None, typer.Option(help="Only accounts of this tier.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Every account by name, with its tier, country, owner, group, bids and contracts."""
        from orchestrator.funnel.accounts import list_accounts
        from orchestrator.store.models import Tier

        if tier is not None and tier not in {t.value for t in Tier}:
            raise InputError(
                f"unknown tier '{tier}'; tiers are {', '.join(t.value for t in Tier)}",
                field="tier",
            )
        ctx = get_context()
        with reading(ctx.engine) as session:
            rows = list_accounts(session, ctx.clock().date(), tier)
        if as_json:
            print_json(rows)
            return
        console.print(
            table(
                f"Accounts ({len(rows)})",
                ("name", "tier", "country", "owner", "group", "open bids", "contracts", "sleeps"),
                [
                    (
                        r["name"],
                        r["tier"],
                        r["country"] or "",
                        r["owner"] or "",
                        r["parent"] or "",
                        r["open_bids"],
                        r["active_contracts"],
                        r["sleeping_until"] or "",
                    )
                    for r in rows
                ],
            )
        )

    @account_app.command("set-tier")
    def account_set_tier(
        name: Annotated[str, typer.Argument(help="The account's name")],
        tier: Annotated[
            str, typer.Argument(help="top, major, middle_market, direct, installed_base")
        ],
        reason: Annotated[str, typer.Option(help="Why the account moves (kept on its trail).")],
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Move an account to another tier (management or an admin), with a reason."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetTier

        sent = command(SetTier, account=name, tier=tier, reason=reason, by=by)
        emit(run(get_context, sent), as_json, _print_tier_change)

    @account_app.command("import")
    def account_import(
        file: Annotated[Path, typer.Argument(help="Account CSV: name,tier[,parent,country,...]")],
        by: ByOption = None,
        as_json: JsonOption = False,
        dry_run: DryRunOption = False,
        problems: ProblemsOption = None,
    ) -> None:
        """Create and update accounts from a CSV file, all rows or none (management or an admin)."""
        from orchestrator.cli.commanding import command, upload
        from orchestrator.cli.intake import run_import
        from orchestrator.core.commands import ImportAccounts

        sent = command(ImportAccounts, file=upload(file), dry_run=dry_run, by=by)
        run_import(
            get_context,
            sent,
            file,
            as_json=as_json,
            problems=problems,
            human=lambda result, _: (
                console.print(esc(result["message"])) if dry_run else _print_account_import(result)
            ),
            extra={"file": str(file)},  # the file as the user named it
        )

    @account_app.command("competitor")
    def account_competitor(
        name: Annotated[str, typer.Argument(help="The account's name")],
        competitor: Annotated[str, typer.Option(help="Who holds the contract now.")],
        contract_end: Annotated[
            str, typer.Option("--contract-end", help="When their contract ends (2027-06-30).")
        ],
        reason: Annotated[str | None, typer.Option(help="Where we learned it.")] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record who won and when their contract ends: the account sleeps until it is time
        to bid again (rules/portfolio.yaml `wake.before_competitor_end_days`)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import RecordCompetitor

        end = _date(contract_end, "contract-end")
        sent = command(
            RecordCompetitor,
            account=name,
            competitor=competitor,
            contract_end=end,
            reason=reason,
            by=by,
        )
        done = run(get_context, sent)
        emit(
            done,
            as_json,
            lambda r: console.print(
                f"{esc(r['account'])}: {esc(r['competitor'])}'s contract ends "
                f"{r['contract_end']}; the account wakes on {r['wakes_on']}"
            ),
        )

    portfolio_app = typer.Typer(
        help="The customer portfolio: accounts by service level and (potential) revenue.",
        invoke_without_command=True,
    )
    app.add_typer(portfolio_app, name="portfolio", rich_help_panel="Accounts")

    @portfolio_app.callback()
    def portfolio_command(
        context: typer.Context,
        as_json: JsonOption = False,
        chart: Annotated[
            Path | None,
            typer.Option("--chart", help="Also draw the portfolio matrix (.png or .svg)."),
        ] = None,
    ) -> None:
        """Every account placed by service level against (potential) revenue, per tier, with
        the moves the tier rules suggest (bid portfolio review records them)."""
        if context.invoked_subcommand is not None:
            return
        from orchestrator.decisions.portfolio_rules import load_portfolio_rules
        from orchestrator.funnel.portfolio import build_portfolio, draw_portfolio

        if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
            raise InputError(f"{chart}: the chart is .png or .svg", field="chart")
        ctx = get_context()
        rules = load_portfolio_rules(ctx.settings.rules_dir)
        with reading(ctx.engine) as session:
            result = build_portfolio(session, rules, ctx.clock().date())
        if chart is not None:
            try:
                draw_portfolio(result, rules, chart)
            except OSError as error:
                raise InputError(
                    f"{chart}: cannot write the chart ({error.strerror})", field="chart"
                ) from None
        if as_json:
            print_json({**result.as_dict(), "chart": str(chart) if chart else None})
            return
        console.print(
            table(
                f"Portfolio {result.as_of}",
                ("tier", "accounts", "revenue/yr", "potential/yr", "pipeline", "placed elsewhere"),
                [
                    (
                        t.tier,
                        t.accounts,
                        _money(t.revenue_eur),
                        _money(t.potential_eur),
                        _money(t.pipeline_eur),
                        t.placed_elsewhere,
                    )
                    for t in result.tiers
                ],
            )
        )
        shown = sorted(result.positions, key=lambda p: (-p.potential_eur, p.name))[:40]
        console.print(
            table(
                f"Accounts by potential (top {len(shown)} of {len(result.positions)})",
                ("account", "tier", "matrix", "service", "revenue/yr", "potential/yr", "move"),
                [
                    (
                        p.name,
                        p.tier,
                        p.quadrant,
                        p.service_level,
                        _money(p.revenue_eur),
                        _money(p.potential_eur),
                        f"→ {p.suggestion.to_tier}" if p.suggestion else "",
                    )
                    for p in shown
                ],
            )
        )
        moves = len(result.suggestions)
        console.print(f"{moves} move(s) suggested by {result.rules_file}: bid portfolio review")
        if chart is not None:
            console.print(f"chart: {esc(chart)}")

    @portfolio_app.command("review")
    def portfolio_review(
        accept: Annotated[int | None, typer.Option(help="Accept this suggestion.")] = None,
        decline: Annotated[int | None, typer.Option(help="Decline this suggestion.")] = None,
        reason: Annotated[str | None, typer.Option(help="Why (required to decide).")] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record the moves the tier rules suggest and list the open ones; management accepts
        (--accept ID) or declines (--decline ID) one, with --reason."""
        from orchestrator.bid.customers.portfolio import (
            decide_suggestion,
            record_suggestions,
            suggestions,
        )
        from orchestrator.cli.identity import acting
        from orchestrator.funnel.portfolio import portfolio

        ctx = get_context()
        if accept is not None and decline is not None:
            raise InputError("give one of --accept or --decline", field="review")
        if accept is not None or decline is not None:
            with acting(ctx, by) as actor:
                decided = decide_suggestion(
                    ctx,
                    accept if accept is not None else decline or 0,
                    accept=accept is not None,
                    by=actor,
                    reason=reason or "",
                )
            emit(
                decided.as_dict(),
                as_json,
                lambda r: console.print(
                    f"suggestion {r['id']} {r['status']}: {esc(r['account'])} "
                    f"{r['from_tier']} → {r['to_tier']}"
                ),
            )
            return
        with reading(ctx.engine) as session:
            result = portfolio(session, ctx.settings.rules_dir, ctx.clock().date())
        added = record_suggestions(ctx, result.suggestions)
        open_ones = suggestions(ctx)
        emit({"new": added, "open": [s.as_dict() for s in open_ones]}, as_json, _print_review)

    contract_app = typer.Typer(help="Contracts won bids became.", no_args_is_help=True)
    app.add_typer(contract_app, name="contract", rich_help_panel="Accounts")

    @contract_app.command("list")
    def contract_list(
        account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
        ending_within: Annotated[
            int | None, typer.Option("--ending-within", help="Only those ending within N days.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Contracts with their monthly revenue, term, end and renewal."""
        from orchestrator.funnel.contracts import list_contracts

        ctx = get_context()
        with reading(ctx.engine) as session:
            rows = list_contracts(session, ctx.clock().date(), account, ending_within)
        if as_json:
            print_json(rows)
            return
        console.print(
            table(
                f"Contracts ({len(rows)})",
                ("contract", "account", "bid", "start", "end", "monthly", "EUR/month", "renewal"),
                [
                    (
                        r["contract"],
                        r["account"],
                        r["opportunity"],
                        r["start_date"],
                        r["end_date"],
                        f"{r['monthly_recurring']:,.2f} {r['currency']}",
                        f"{r['monthly_recurring_eur']:,.2f}",
                        r["renewal"] or "—",
                    )
                    for r in rows
                ],
            )
        )

    renewals_app = typer.Typer(
        help="Renewals of contracts nearing their end.", no_args_is_help=True
    )
    app.add_typer(renewals_app, name="renewals", rich_help_panel="Accounts")

    @renewals_app.command("scan")
    def renewals_scan(as_json: JsonOption = False) -> None:
        """Open a renewal opportunity for every contract ending within the horizon
        (rules/portfolio.yaml) and wake sleeping accounts whose date has come."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import ScanRenewals

        emit(run(get_context, command(ScanRenewals)), as_json, _print_renewals)


def _print_tier_change(change: Result) -> None:
    if change["changed"]:
        console.print(f"{esc(change['account'])}: {change['from_tier']} → {change['to_tier']}")
    else:
        console.print(f"{esc(change['account'])} is already {change['to_tier']}: nothing changed")


def _print_account_import(result: Result) -> None:
    counts = result["counts"]
    console.print(
        f"{esc(result['file'])}: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['tier_changes']} tier change(s)"
    )
    for change in result["tier_changes"]:
        console.print(f"   {esc(change['account'])}: {change['from_tier']} → {change['to_tier']}")


def _print_review(result: Result) -> None:
    open_ones = result["open"]
    console.print(
        table(
            f"Open portfolio suggestions ({result['new']} new)",
            ("id", "account", "move", "rule", "why"),
            [
                (
                    s["id"],
                    s["account"],
                    f"{s['from_tier']} → {s['to_tier']}",
                    s["rule"],
                    s["reason"],
                )
                for s in open_ones
            ],
        )
    )
    if open_ones:
        console.print(
            "management decides: bid portfolio review --accept ID | --decline ID --reason ..."
        )


def _print_renewals(result: Result) -> None:
    for r in result["opened"]:
        console.print(
            f"{r['opportunity']}: renewal of {r['contract']} ({esc(r['account'])}), contract "
            f"ends {r['end_date']}, proposal due {r['submission_deadline']}"
        )
    for w in result["woken"]:
        console.print(f"woken: {esc(w['account'])} (sleeping until {w['sleeping_until']})")
    console.print(
        f"{len(result['opened'])} renewal(s) opened, {len(result['woken'])} account(s) woken"
    )
