"""CLI commands for sales funnel management: `funnel`, `forecast`, `sleeping`, `report monthly`.

Thin: parse options, call `funnel` / `forecast` / `winloss` / `report`, print a Rich table
for people or JSON for machines. Nothing here imports Prefect or matplotlib (the report
module imports matplotlib only while drawing), so `bid --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli.output import Result, cell, emit, esc, print_json
from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import Period, month_of, parse_period, quarter_of
from orchestrator.errors import InputError
from orchestrator.store.db import reading

if TYPE_CHECKING:
    from orchestrator.funnel.measure import FunnelReport

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _month(text: str | None, ctx: Context) -> Period:
    if text is None:
        return month_of(ctx.clock().date())
    period = parse_period(text)
    if len(period.label) != 7 or "Q" in period.label:
        raise InputError(f"{text!r} is not a month like 2026-11", field="month")
    return period


def print_funnel(console: Console, result: FunnelReport, owner: str | None = None) -> None:
    """The funnel as a table with its shape underneath (also printed by `bid demo`)."""
    title = f"Funnel {result.period.label}" + (f" — {esc(owner)}" if owner else "")
    table = Table(title=title)
    table.add_column("stage", no_wrap=True)
    for header in ("count", "target", "% target", "conv. (exp.)", "weeks med/p90 (exp.)"):
        table.add_column(header, justify="right")
    for s in result.stages:
        table.add_row(
            s.stage.value,
            str(s.count),
            "—" if s.target is None else str(s.target),
            "—" if s.percent_of_target is None else f"{s.percent_of_target}%",
            f"{_pct(s.conversion)} ({_pct(s.expected_conversion)})",
            f"{_num(s.median_weeks)} / {_num(s.p90_weeks)} ({_num(s.expected_weeks)})",
        )
    console.print(table)
    shape = result.shape
    console.print(
        f"Shape: [bold]{shape.kind.value}[/bold] — cohort {result.cohort_size} bids, "
        f"skipped a stage {_pct(shape.skipped_share)}, survival {_pct(shape.survival)}, "
        f"early share of elimination {_pct(shape.early_elimination_share)}"
    )


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add the funnel, forecast, sleeping and `report monthly` commands to `app`."""
    console = Console()

    @app.command("funnel", rich_help_panel="Funnel")
    def funnel_command(
        period: Annotated[
            str | None, typer.Option(help="Quarter (2026-Q4), month or year; default: now.")
        ] = None,
        owner: Annotated[
            str | None, typer.Option(help="Only this account manager's bids (e-mail).")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Per stage: count versus target, conversion, weeks in stage; and the funnel's shape."""
        from orchestrator.funnel.measure import funnel_report

        ctx = get_context()
        now = ctx.clock()
        chosen = parse_period(period) if period else quarter_of(now.date())
        with reading(ctx.engine) as session:
            result = funnel_report(session, ctx.settings.rules_dir, chosen, now=now, owner=owner)
        if as_json:
            print_json(result.as_dict())
            return
        print_funnel(console, result, owner)

    @app.command("forecast", rich_help_panel="Funnel")
    def forecast_command(
        save: Annotated[bool, typer.Option("--save", help="Store this forecast.")] = False,
        accuracy: Annotated[
            bool, typer.Option("--accuracy", help="Past forecasts versus actual won revenue.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Weighted pipeline and expected revenue per month; `--accuracy` checks old ones."""
        from orchestrator.funnel.forecast import forecast_accuracy, take_forecast

        ctx = get_context()
        now = ctx.clock()
        rules_dir = ctx.settings.rules_dir
        if accuracy:
            with reading(ctx.engine) as session:
                rows = forecast_accuracy(session, rules_dir, now=now)
            if as_json:
                print_json([row.as_dict() for row in rows])
                return
            table = Table(title="Forecast accuracy")
            for header in ("month", "forecast", "actual", "abs % error"):
                table.add_column(header, justify="right")
            for row in rows:
                table.add_row(
                    row.period,
                    f"{row.forecast:,.0f}",
                    f"{row.actual:,.0f}",
                    _num(row.abs_pct_error),
                )
            console.print(table)
            return
        from orchestrator.cli.identity import current_person

        by = current_person(ctx).email if save else "system"
        result = take_forecast(ctx.engine, rules_dir, now=now, save=save, by=by)
        if as_json:
            print_json(result.as_dict())
            return
        table = Table(title="Weighted pipeline")
        table.add_column("stage", no_wrap=True)
        for header in ("bids", "revenue", "P(win)", "weighted"):
            table.add_column(header, justify="right")
        for p in result.pipeline:
            table.add_row(
                p.stage.value,
                str(p.bids),
                f"{p.revenue:,.0f}",
                _pct(p.probability),
                f"{p.weighted:,.0f}",
            )
        console.print(table)
        months = Table(title="Expected revenue")
        for header in ("month", "committed", "weighted", "expected"):
            months.add_column(header, justify="right")
        for m in [*result.months, *result.quarters()]:
            months.add_row(
                m.period, f"{m.committed:,.0f}", f"{m.weighted:,.0f}", f"{m.expected:,.0f}"
            )
        console.print(months)
        if result.undated_bids:
            console.print(
                f"{result.undated_bids} open bids without a decision date "
                f"({result.undated_revenue:,.0f}) are not in the months above."
            )
        if save:
            console.print(f"Saved {len(result.months)} monthly snapshots.")

    @app.command("sleeping", rich_help_panel="Funnel")
    def sleeping_command(as_json: JsonOption = False) -> None:
        """Lost and no-bid accounts to keep warm, soonest reminder first."""
        from orchestrator.funnel.winloss import sleeping_accounts

        ctx = get_context()
        with reading(ctx.engine) as session:
            accounts = sleeping_accounts(session, ctx.clock().date())
        if as_json:
            print_json([a.as_dict() for a in accounts])
            return
        table = Table(title="Sleeping accounts")
        for header in ("account", "tier", "reminder", "last bid", "result", "category"):
            table.add_column(header)
        for a in accounts:
            table.add_row(
                cell(a.name),
                cell(a.tier),
                a.sleeping_until.isoformat() + (" (due)" if a.due else ""),
                cell(a.last_bid or "—"),
                cell(a.last_result or "—"),
                cell(a.last_category or "—"),
            )
        console.print(table)

    report_app = typer.Typer(help="Business reports.", no_args_is_help=True)
    app.add_typer(report_app, name="report", rich_help_panel="Funnel")

    @report_app.command("monthly")
    def monthly_command(
        month: Annotated[str | None, typer.Option(help="Month (2026-11); default: now.")] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Output directory for the report.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """The monthly business review as HTML and PDF with PNG charts and CSV figures."""
        from orchestrator.funnel.report import monthly_report

        ctx = get_context()
        chosen = _month(month, ctx)
        target = out or ctx.settings.output_dir / "reports" / f"monthly-{chosen.label}"
        index = monthly_report(
            ctx.engine,
            rules_dir=ctx.settings.rules_dir,
            templates_dir=ctx.settings.templates_dir,
            month=chosen,
            out_dir=target,
            now=ctx.clock(),
        )
        from orchestrator.funnel.report import PDF_NAME

        pdf = index.parent / PDF_NAME
        result = {
            "month": chosen.label,
            "folder": str(target),
            "html": str(index),
            "pdf": str(pdf) if pdf.is_file() else None,
        }
        emit(result, as_json, _print_report)


def _print_report(result: Result) -> None:
    typer.echo(result["html"])
    typer.echo(result["pdf"] or "PDF not written (no Chromium here)")
