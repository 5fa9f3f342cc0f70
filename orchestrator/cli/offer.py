"""CLI commands for what we offer and how the customer orders: `bid service-strategy`,
`bid order details`.

    bid service-strategy OPP --strategy sla [--win-theme TEXT ...]   at kick-off (until governance)
    bid order details OPP [--legal-entity T] [--billing-entity T] [--po T] [--contract-start DATE]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.cli.output import Result, emit, esc
from orchestrator.context import Context

console = Console(highlight=False)
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who records it (default: you; others: admins, recorders)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def print_step(result: Result) -> None:
    """A change's one line: the bid and what the service said."""
    console.print(f"{result['opportunity']}: {esc(result['message'])}")


def register(app: typer.Typer, get_context: Callable[[], Context]) -> None:
    """Add `service-strategy` and `order details` to the `bid` command."""
    order_app = typer.Typer(
        help="What provisioning needs to order a won bid.", no_args_is_help=True
    )
    app.add_typer(order_app, name="order", rich_help_panel="Production")

    @app.command("service-strategy", rich_help_panel="Production")
    def service_strategy(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        strategy: Annotated[
            str,
            typer.Option("--strategy", help="sla | qos | cost_transparency (rules/proposal.yaml)"),
        ],
        win_theme: Annotated[
            list[str] | None,
            typer.Option("--win-theme", help="Why the customer should choose us (repeatable)"),
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Choose how we sell this bid (it decides the proposal's sections) and its win themes."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetServiceStrategy

        sent = command(
            SetServiceStrategy,
            opportunity=opportunity,
            strategy=strategy,
            win_themes=list(win_theme or []),
            by=by,
        )
        emit(run(get_context, sent), as_json, print_step)

    @order_app.command("details")
    def order_details(
        opportunity: Annotated[str, typer.Argument(help="OPP-0007 or 7")],
        legal_entity: Annotated[
            str | None, typer.Option("--legal-entity", help="The customer's contracting entity")
        ] = None,
        billing_entity: Annotated[
            str | None, typer.Option("--billing-entity", help="Who receives the invoices")
        ] = None,
        po: Annotated[
            str | None, typer.Option("--po", help="The customer's purchase order")
        ] = None,
        contract_start: Annotated[
            str | None, typer.Option("--contract-start", help="YYYY-MM-DD")
        ] = None,
        by: ByOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Record the legal and billing entity, purchase order and contract start."""
        from orchestrator.cli.commanding import command, run
        from orchestrator.core.commands import SetOrderDetails
        from orchestrator.errors import InputError

        start = None
        if contract_start is not None:
            try:
                start = date.fromisoformat(contract_start.strip())
            except ValueError:
                raise InputError(
                    f"'{contract_start}' is not a date (YYYY-MM-DD)", field="contract-start"
                ) from None
        sent = command(
            SetOrderDetails,
            opportunity=opportunity,
            legal_entity=legal_entity,
            billing_entity=billing_entity,
            purchase_order=po,
            contract_start=start,
            by=by,
        )
        emit(run(get_context, sent), as_json, print_step)
