"""Handlers of what we offer and how the customer orders: the service strategy and its win
themes, and the order details provisioning needs once the bid is won."""

from __future__ import annotations

from orchestrator.context import Context
from orchestrator.core import commands as c
from orchestrator.handlers.registry import handles, moved
from orchestrator.runtime.runner import FlowRunner


@handles(c.SetServiceStrategy)
def _service_strategy(
    ctx: Context, command: c.SetServiceStrategy, actor: str, runner: FlowRunner
) -> c.Result:
    from orchestrator.bid.opportunity.offer import set_service_strategy

    step = set_service_strategy(
        ctx,
        command.opportunity,
        strategy=command.strategy,
        win_themes=list(command.win_themes),
        by=actor,
    )
    return c.StrategySet(
        **moved(command.name, step).model_dump(),
        strategy=command.strategy,
        win_themes=list(command.win_themes),
    )


@handles(c.SetOrderDetails)
def _order_details(
    ctx: Context, command: c.SetOrderDetails, actor: str, runner: FlowRunner
) -> c.Result:
    from orchestrator.bid.opportunity.offer import set_order_details

    step = set_order_details(
        ctx,
        command.opportunity,
        by=actor,
        legal_entity=command.legal_entity,
        billing_entity=command.billing_entity,
        purchase_order=command.purchase_order,
        contract_start=command.contract_start,
    )
    given = {
        "legal_entity": command.legal_entity,
        "billing_entity": command.billing_entity,
        "purchase_order": command.purchase_order,
        "contract_start": command.contract_start.isoformat() if command.contract_start else None,
    }
    return c.Changed(
        **moved(command.name, step).model_dump(),
        changes={k: v for k, v in given.items() if v is not None},
    )
