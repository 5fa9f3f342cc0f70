"""CLI commands for quotes and documents: `qrf`, `quotes import|status`, `docs`, `macd`.

Thin: resolve the opportunity, call `quotes` / `documents` / `orders`, build one result and
print it as a Rich table for people or JSON for machines (`--json`). User mistakes raise
`BidError`s; the main wrapper prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.intake import DryRunOption, ProblemsOption
from orchestrator.cli.output import Result, emit, esc, print_json, table
from orchestrator.context import Context

# The modules behind these commands (docxtpl, openpyxl, the quote catalogue) load inside
# each command, so that `bid status` and friends start without them.

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Output folder (default: the bid's output folder).")
]
console = Console()


def _print_documents(title: str, documents: list[dict[str, Any]], problems: list[str]) -> None:
    console.print(
        table(
            title,
            ("Kind", "Name", "File", "Version"),
            [(d["kind"], d["name"], d["path"], d["content_hash"][:12]) for d in documents],
        )
    )
    for problem in problems:
        console.print(f"[yellow]problem:[/] {esc(problem)}", highlight=False)


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `qrf`, `quotes import|status`, `docs` and `macd` to the `bid` command."""
    quotes_app = typer.Typer(help="Supplier quotes: import and status.", no_args_is_help=True)
    app.add_typer(quotes_app, name="quotes", rich_help_panel="Production")

    @app.command("qrf", rich_help_panel="Production")
    def qrf(
        opportunity: Annotated[
            str, typer.Argument(help="OPP-0007 or 7; or `status` then the bid (bid qrf status OPP)")
        ],
        status_of: Annotated[
            str | None, typer.Argument(help="With `status`: the bid whose requests to list")
        ] = None,
        out: OutOption = None,
        as_json: JsonOption = False,
        by: Annotated[
            str | None,
            typer.Option("--by", help="Who sends them (default: you; others: admins, recorders)."),
        ] = None,
    ) -> None:
        """Write and record one QRF (.docx + .csv) per country and provider, with its reply-by
        date; BE/NL get internal tasks; unsourced sites go to unsourced.csv (exit 2 when no
        fallback partner is configured). After a change of sites, an amendment with only the
        changed and new sites. `bid qrf status OPP` lists the requests recorded: open,
        answered, superseded or cancelled (when and why)."""
        from orchestrator.cli.commanding import command, copy_out, run
        from orchestrator.core.commands import SendQuoteRequests
        from orchestrator.errors import InputError, UnsourcedSites

        if opportunity == "status" or status_of is not None:
            if opportunity != "status" or status_of is None:
                raise InputError("use bid qrf OPP, or bid qrf status OPP", field="opportunity")
            _qrf_status(status_of, as_json)
            return

        result = run(get_context, command(SendQuoteRequests, opportunity=opportunity, by=by))
        if out is not None:
            copy_out(get_context, result, out)
        emit(result, as_json, _print_qrf)
        if result["unsourced"] and not result["fallback_configured"]:
            countries = Counter(site["country"] for site in result["unsourced"])
            listed = next(
                (d["path"] for d in result["documents"] if d["kind"] == "unsourced_csv"),
                "unsourced.csv",
            )
            raise UnsourcedSites(
                f"{len(result['unsourced'])} site(s) unsourced in "
                f"{', '.join(sorted(countries))}: no provider and no "
                f"fallback partner in rules/providers.yaml; listed in {listed}; bid production "
                "waits until they are sourced"
            )

    @quotes_app.command("import")
    def quotes_import(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        file: Annotated[Path, typer.Argument(help="Quote CSV")],
        by: Annotated[
            str | None,
            typer.Option("--by", help="Who imports (default: you; others: admins, recorders)."),
        ] = None,
        as_json: JsonOption = False,
        dry_run: DryRunOption = False,
        problems: ProblemsOption = None,
    ) -> None:
        """Import a provider quote file: a malformed row refuses it; a quote far from the list
        price is imported as an outlier waiting for bid quotes accept|requote."""
        from orchestrator.cli.commanding import command, upload
        from orchestrator.cli.intake import run_import
        from orchestrator.core.commands import ImportQuotes

        sent = command(
            ImportQuotes, opportunity=opportunity, file=upload(file), by=by, dry_run=dry_run
        )

        def human(result: Result, problems_file: str | None) -> None:
            _print_quote_import({**result, "problems_file": problems_file})

        run_import(
            get_context,
            sent,
            file,
            as_json=as_json,
            problems=problems,
            human=human,
            extra={"file": str(file)},
        )

    def _qrf_status(opportunity: str, as_json: bool) -> None:
        from orchestrator.bid.producing.sourcing import request_status

        rows = request_status(get_context(), opportunity)
        if as_json:
            print_json({"opportunity": _ref(opportunity), "requests": [r.to_json() for r in rows]})
            return
        console.print(
            table(
                f"Quote requests of {_ref(opportunity)}",
                ("Request", "Provider", "Sites", "Reply by", "Status", "Note"),
                [
                    (
                        r.name,
                        r.provider,
                        str(r.sites),
                        r.reply_by.isoformat(),
                        r.status,
                        (
                            f"{r.cancelled_at:%Y-%m-%d %H:%M}: {r.cancel_reason}"
                            if r.cancelled_at
                            else (
                                f"amends {r.amends}; withdraws {', '.join(r.withdrawn)}"
                                if r.amends
                                else ""
                            )
                        ),
                    )
                    for r in rows
                ],
            )
        )

    @quotes_app.command("status")
    def quotes_status(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        as_json: JsonOption = False,
    ) -> None:
        """Per site: firm, budgetary, missing, expired or stale (re-quote); and the margin."""
        from orchestrator.bid.reports.queries import quote_report

        report = quote_report(get_context(), opportunity)
        if as_json:
            print_json(report.to_json())
            return
        console.print(
            table(
                f"Quotes for {_ref(opportunity)}",
                ("Site", "Country", "Status", "Provider", "Valid until", "Margin"),
                [
                    (
                        site.site_id,
                        site.country,
                        site.label,
                        site.provider,
                        site.valid_until.isoformat() if site.valid_until else "",
                        _pct(site.margin_pct),
                    )
                    for site in report.sites
                ],
            )
        )
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        console.print(
            f"{counts}; bid margin {_pct(report.margin.margin_pct)} over "
            f"{report.margin.contract_months} months",
            highlight=False,
        )

    @app.command("docs", rich_help_panel="Documents")
    def docs(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        out: OutOption = None,
        pdf: Annotated[
            bool, typer.Option("--pdf", help="Also write a PDF beside each .docx (LibreOffice).")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Render QRFs, the proposal (+ compliance matrix) and the Bid Control Plan; after a
        win, the order sheet; with --pdf, PDFs beside the .docx files."""
        from orchestrator.cli.commanding import command, copy_out, run
        from orchestrator.core.commands import RenderDocuments

        result = run(get_context, command(RenderDocuments, opportunity=opportunity, pdf=pdf))
        if out is not None:
            copy_out(get_context, result, out)
        emit(result, as_json, _print_docs)

    @app.command("macd", rich_help_panel="Production")
    def macd(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        site: Annotated[str, typer.Option("--site", help="Site id, e.g. S-00012")],
        kind: Annotated[str, typer.Option("--kind", help="move | add | change | delete")],
        by: Annotated[
            str | None,
            typer.Option("--by", help="Who records it (default: you; others: admins, recorders)"),
        ] = None,
        street: Annotated[str | None, typer.Option("--street")] = None,
        postcode: Annotated[str | None, typer.Option("--postcode")] = None,
        city: Annotated[str | None, typer.Option("--city")] = None,
        country: Annotated[str | None, typer.Option("--country")] = None,
        bandwidth: Annotated[int | None, typer.Option("--bandwidth", help="Mbps")] = None,
        access: Annotated[str | None, typer.Option("--access")] = None,
        name: Annotated[str | None, typer.Option("--name")] = None,
        service: Annotated[str | None, typer.Option("--service")] = None,
        monthly_cost: Annotated[
            float | None,
            typer.Option("--monthly-cost", help="The carrier's new monthly cost (a new quote)"),
        ] = None,
        one_off_cost: Annotated[
            float | None,
            typer.Option("--one-off-cost", help="The carrier's new one-off cost (a new quote)"),
        ] = None,
        provider_reference: Annotated[
            str | None,
            typer.Option("--provider-reference", help="The carrier's reference of that quote"),
        ] = None,
        out: OutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record a move, add, change or delete on a contracted bid; re-render the order sheet."""
        from orchestrator.cli.commanding import command, copy_out, run
        from orchestrator.core.commands import RecordMacd

        sent = command(
            RecordMacd,
            opportunity=opportunity,
            site=site,
            kind=kind,
            street=street,
            postcode=postcode,
            city=city,
            country=country,
            bandwidth=bandwidth,
            access=access,
            name=name,
            service=service,
            monthly_cost=monthly_cost,
            one_off_cost=one_off_cost,
            provider_reference=provider_reference,
            by=by,
        )
        result = run(get_context, sent)
        if out is not None:
            copy_out(get_context, result, out)
        emit(result, as_json, _print_macd)


def _print_qrf(result: Result) -> None:
    _print_documents(f"QRFs for {result['opportunity']}", result["documents"], [])
    _print_sourcing(result)
    unserved = set(result.get("unserved", []))
    for problem in result["problems"]:
        if not any(f"site {s} " in problem for s in unserved):
            console.print(f"[yellow]check:[/] {esc(problem)}", highlight=False)


def _print_quote_import(result: Result) -> None:
    from orchestrator.cli.render import finding_lines

    ref = result["opportunity"]
    if result["already_imported"]:
        console.print(
            f"{ref}: {esc(Path(result['file']).name)} was already imported "
            f"({escape(result['already_imported'])}, same content sha256 "
            f"{result['content_hash'][:12]}); nothing imported",
            highlight=False,
        )
        return
    if result.get("dry_run"):
        console.print(f"{ref}: {esc(result['message'])}", highlight=False)
    for line in finding_lines(result, result.get("problems_file")):
        console.print(esc(line), highlight=False, soft_wrap=True)
    if result.get("dry_run"):
        return
    console.print(
        f"{ref}: imported {result['imported']} quote(s) "
        f"({result['firm']} firm, {result['budgetary']} budgetary), "
        f"{result['superseded']} superseded",
        highlight=False,
    )
    floor = result["margin_floor_pct"]
    console.print(
        f"margin {_pct(result['margin_before_pct'])} → {_pct(result['margin_after_pct'])}"
        + (f" (floor {_pct(floor)})" if floor else ""),
        highlight=False,
    )
    expired = result["expired"]
    if expired:
        console.print(
            f"[yellow]expired:[/] {len(expired)} quote(s) already past valid_until: "
            + esc(", ".join(expired[:10]))
            + (" …" if len(expired) > 10 else ""),
            highlight=False,
        )
    change = result["change"]
    if change is not None and change["action"] != "record":
        areas = ", ".join(change["requested"]) or "approvers"
        done = {
            "reapprove": f"{len(change['invalidated_approvals'])} approval(s) invalidated and "
            "asked again" + (f"; newly asked: {areas}" if change["requested"] else ""),
            "notify": f"recorded; {len(change['notified'])} approver(s) told, approvals stand",
            "rework": "governance refuses the deal: the bid is back in bid production",
        }[change["action"]]
        console.print(f"[red]{change['rule']}[/]: {done}", highlight=False)
    if change is not None and change["design_unfrozen"]:
        console.print("design unfrozen: freeze it again when it is final (bid freeze)")
    for text in result["open_criteria"]:
        console.print(f"open: {escape(text)}", highlight=False)


def _print_docs(result: Result) -> None:
    _print_documents(
        f"Documents for {result['opportunity']}", result["documents"], result["problems"]
    )
    console.print(f"proposal version {result['proposal_hash']}", highlight=False)


def _print_macd(result: Result) -> None:
    ref, order = result["opportunity"], result["change_order"]
    held = (
        f"; it changes a price and waits for the financial approval (bid approve {ref} "
        "--area financial)"
        if result["held"]
        else ""
    )
    console.print(
        f"{ref}: {esc(order['kind'])} of site {esc(order['site_id'])} recorded{held}",
        highlight=False,
    )
    _print_documents("Order sheet", result["documents"], result["problems"])


def _print_sourcing(result: Result) -> None:
    """Per country: who is asked for how many sites (reply by), and the unsourced sites."""
    table = Table(title="Quote requests per country", title_justify="left")
    for column in ("Country", "Sites", "Asked", "Unsourced"):
        table.add_column(column)
    for row in result["per_country"]:
        table.add_row(
            row["country"], str(row["sites"]), ", ".join(row["requests"]), str(row["unsourced"])
        )
    console.print(table)
    for request in result["requests"]:
        via = " (fallback partner)" if request["fallback"] else ""
        console.print(
            f"{request['name']}: {request['sites']} site(s), {request['firm']} firm, reply by "
            f"{request['reply_by']}{via}",
            highlight=False,
        )
    console.print(f"{result['recorded']} quote request(s) recorded", highlight=False)
    unsourced = result["unsourced"]
    if unsourced:
        per_country = Counter(site["country"] for site in unsourced)
        counts = ", ".join(f"{c} {n}" for c, n in sorted(per_country.items()))
        console.print(f"[red]unsourced[/]: {len(unsourced)} site(s) ({counts})", highlight=False)


def _ref(opportunity: str) -> str:
    from orchestrator.bid.facts import parse_ref
    from orchestrator.store.models import format_ref

    return format_ref(parse_ref(opportunity))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"
