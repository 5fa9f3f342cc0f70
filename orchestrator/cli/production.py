"""CLI commands of bid production and the approvers' view: `freeze`, `terms`, `pricing`,
`approval show`.

Thin: call the `bid` services and queries, print a few lines for people or JSON for machines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator.cli.output import Result, emit
from orchestrator.context import Context

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
console = Console(highlight=False)


def print_step(result: Result) -> None:
    """A change's one line: the bid and what the service said (user text shown literally)."""
    console.print(f"{result['opportunity']}: {escape(result['message'])}")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def print_summary(summary: Result, out: Console = console) -> None:
    """The approval summary as a bid manager reads it."""
    currency, value, margin = summary["currency"], summary["value"], summary["margin"]
    coverage = summary["coverage"]
    out.print(
        f"[bold]{summary['opportunity']}[/] {escape(summary['title'])} — "
        f"{escape(summary['account'])} ({summary['tier']}), {summary['state']}"
    )
    out.print(f"version {summary['version'] or '(no proposal yet)'}, round {summary['round']}")
    fx = summary["fx"]
    rate = f" (1 {currency} = {fx['rate_eur']:g} EUR, rates of {fx['as_of']})"
    out.print(
        f"value:    {value['contract']:,.2f} {currency} over {value['contract_months']} months"
        f" — {value['monthly']:,.2f} monthly, {value['one_off']:,.2f} one-off"
        + (rate if currency != "EUR" else "")
    )
    floor = margin["floor_pct"]
    mark = " [red]below the floor[/]" if margin["below_floor"] else ""
    out.print(f"margin:   {_pct(margin['pct'])} against a floor of {_pct(floor)}{mark}")
    out.print(
        f"coverage: firm {coverage['firm']:,}, budgetary {coverage['budgetary']:,}, "
        f"expired {coverage['expired']:,}, missing {coverage['missing']:,} of "
        f"{coverage['sites']:,} sites"
        + (f"; {coverage['unsourced']:,} unsourced" if coverage["unsourced"] else "")
    )
    out.print(f"discount: {_pct(summary['discount_pct'])} against list")
    deviations = summary["deviations"]
    out.print("deviations: " + ("; ".join(escape(d) for d in deviations) or "none"))
    for risk in summary["risks"]:
        out.print(f"[yellow]risk[/]: {escape(risk)}")
    for held in summary.get("held_changes") or []:
        from orchestrator.commercial.orders import delta_headline

        out.print(f"waits for finance: {escape(delta_headline(held))}")
    losing = summary.get("loss_making") or {}
    if losing.get("count"):
        out.print(
            f"loss-making lines: {losing['count']:,}, losing {losing['total_loss_eur']:,.2f} EUR "
            "over the contract"
        )
        for line in losing["lines"]:
            out.print(
                f"  {escape(line['site_id'])} ({line['country']}): {line['monthly_price']:,.2f} "
                f"a month against a cost of {line['monthly_cost']:,.2f}, loss "
                f"{line['loss']:,.2f} EUR"
            )
    for area in summary["required"]:
        reasons = " ".join(summary["reasons"].get(area, []))
        out.print(f"needs {area}: {reasons}")
    if summary["verdict"] == "refused":
        out.print("[red]governance refuses this deal as priced[/]")
    for document in summary["documents"]:
        out.print(f"document: {document['kind']} {escape(document['path'])}")
    for approval in summary.get("approvals", []):
        by = f" by {approval['by']}" if approval["by"] else ""
        why = f" ({escape(approval['reason'])})" if approval["reason"] else ""
        out.print(f"approval {approval['area']}: {approval['status']}{by}{why}")


def print_area(view: Result, out: Console = console) -> None:
    """One approver's view: the bid, what stands out, then the area's lines."""
    from orchestrator.core.approval_views import section_lines, sections_of

    out.print(
        f"[bold]{view['opportunity']}[/] {escape(view['title'])} — {escape(view['account'])}, "
        f"{view['state']}: the {view['area']} approval, version {view['version'] or '—'}, "
        f"round {view['round']}"
    )
    for flag in view["flags"]:
        out.print(f"[red]![/] {escape(flag)}")
    for name in sections_of(view["area"]):
        out.print(f"[bold]{name}[/]")
        for label, text in section_lines(name, view[name]):
            out.print(f"  {escape(label)}: {escape(text)}")
    for approval in view["approvals"]:
        by = f" by {approval['by']}" if approval["by"] else ""
        out.print(f"approval {approval['area']}: {approval['status']}{by}")


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `freeze`, `terms`, `pricing` and `approval show` to the `bid` command."""
    approval_app = typer.Typer(help="What the approvers see.", no_args_is_help=True)
    app.add_typer(approval_app, name="approval", rich_help_panel="Governance")

    @app.command("freeze", rich_help_panel="Production")
    def freeze(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        by: Annotated[str, typer.Option("--by", help="E-mail of the consultant or bid manager")],
        note: Annotated[str | None, typer.Option("--note", help="What this version is")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Freeze the solution design (a new version); a later change to sites or quotes
        reopens it."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import FreezeDesign

        sent = command(FreezeDesign, opportunity=opportunity, by=by, note=note)
        emit(run(get_context, sent), as_json, print_step)

    @app.command("terms", rich_help_panel="Production")
    def terms(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        by: Annotated[str, typer.Option("--by", help="E-mail of who records the terms")],
        deviation: Annotated[
            list[str] | None,
            typer.Option("--deviation", help="A non-standard term (repeat for several)"),
        ] = None,
        standard: Annotated[
            bool, typer.Option("--standard", help="Back to the standard terms")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Record the non-standard terms the customer asks for (they replace the earlier ones)."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetTerms
        from orchestrator.errors import InputError

        if standard == bool(deviation):
            raise InputError("give --deviation TEXT (one or more) or --standard", field="terms")
        sent = command(
            SetTerms,
            opportunity=opportunity,
            deviations=list(deviation or []),
            standard=standard,
            by=by,
        )
        emit(run(get_context, sent), as_json, print_step)

    @app.command("pricing", rich_help_panel="Production")
    def pricing(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        by: Annotated[str, typer.Option("--by", help="E-mail of who changes the prices")],
        discount: Annotated[
            float | None, typer.Option("--discount", help="Percent off the whole price")
        ] = None,
        monthly: Annotated[
            list[str] | None,
            typer.Option(
                "--monthly",
                help="ACCESS_OR_SERVICE=PRICE per month (repeatable); with --site, --country "
                "or --band: the monthly price of those lines",
            ),
        ] = None,
        one_off: Annotated[
            list[str] | None,
            typer.Option(
                "--one-off",
                help="ACCESS_OR_SERVICE=PRICE once (repeatable); with --site, --country or "
                "--band: the one-off price of those lines",
            ),
        ] = None,
        site: Annotated[
            str | None, typer.Option("--site", help="Price this one site (a loss-making line)")
        ] = None,
        country: Annotated[
            str | None, typer.Option("--country", help="Price every site of a country (BE)")
        ] = None,
        band: Annotated[
            str | None,
            typer.Option(
                "--band",
                help="Price every site of a price band, ACCESS:UP_TO_MBPS (fiber:100); with "
                "--country, that country's sites of the band",
            ),
        ] = None,
        reason: Annotated[
            str | None,
            typer.Option("--reason", help="Why (required with --site, --country or --band)"),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change the bid's prices in bid production (a discount, prices that override the
        list per access type, or a price where the loss is: a site, a country, a band, with
        a reason); the design reopens."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetPricing
        from orchestrator.errors import InputError

        if site is not None or country is not None or band is not None:
            single: dict[str, float] = {}
            for key, values in (("monthly", monthly), ("one_off", one_off)):
                if not values:
                    continue
                if len(values) > 1:
                    raise InputError("give one price for the site, country or band", field=key)
                try:
                    single[key] = float(values[0])
                except ValueError:
                    raise InputError(f"'{values[0]}' is not a price", field=key) from None
            sent = command(
                SetPricing,
                opportunity=opportunity,
                discount=discount,
                site=site,
                country=country,
                band=band,
                reason=reason,
                by=by,
                **single,
            )
            emit(run(get_context, sent), as_json, print_step)
            return
        prices: dict[str, dict[str, float]] = {}
        for key, values in (("monthly_price", monthly), ("one_off_price", one_off)):
            pairs: dict[str, float] = {}
            for text in values or []:
                name, sep, price = text.partition("=")
                try:
                    pairs[name.strip()] = float(price)
                except ValueError:
                    raise InputError(f"'{text}' is not NAME=PRICE", field=key) from None
                if not sep:
                    raise InputError(f"'{text}' is not NAME=PRICE", field=key)
            prices[key] = pairs
        if discount is None and not any(prices.values()):
            raise InputError("give --discount, --monthly or --one-off", field="pricing")
        sent = command(
            SetPricing, opportunity=opportunity, discount=discount, by=by, reason=reason, **prices
        )
        emit(run(get_context, sent), as_json, print_step)

    @approval_app.command("show")
    def approval_show(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        area: Annotated[
            str | None,
            typer.Option(
                "--area",
                help="What one approver decides on: technical, financial, legal or management",
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Value, margin against the floor, coverage, discount, deviations, risks, documents
        and the version the approvals bind to; with --area, what that approver decides on."""
        from orchestrator.bid.reports.queries import approval_view
        from orchestrator.core.approval_views import AREAS, for_area
        from orchestrator.errors import InputError

        if area is not None and area not in AREAS:
            raise InputError(f"unknown area '{area}'; areas are {', '.join(AREAS)}", field="area")
        summary = approval_view(get_context(), opportunity)
        if area is None:
            emit(summary, as_json, print_summary)
        else:
            emit(for_area(summary, area), as_json, print_area)
