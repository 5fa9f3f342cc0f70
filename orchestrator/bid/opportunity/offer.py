"""What we offer and on which terms the customer orders: the service strategy chosen at
kick-off (with its win themes), and the order details provisioning needs after a win.

The service strategy (rules/proposal.yaml: sla, qos, cost_transparency) decides which
sections the proposal carries; bid production does not end before it is chosen
(rules/production_exit.yaml `service_strategy`). The order details — the customer's legal
and billing entity, its purchase order and the contract start — go on the clean order sheet.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from orchestrator.bid.contracting.contracts import end_of_term, move_contract_start
from orchestrator.bid.facts import StepResult, get_opportunity
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, refusals_kept, render_after_change
from orchestrator.bid.trail.versions import first_submitted_on
from orchestrator.context import Context
from orchestrator.decisions.offer_rules import load_proposal_rules
from orchestrator.errors import InputError, TransitionRefused
from orchestrator.intake.opportunity import MAX_TEXT, OpportunitySpec
from orchestrator.lifecycle.table import State
from orchestrator.store.db import transaction
from orchestrator.store.models import Opportunity
from orchestrator.text import has_control_characters

MAX_WIN_THEMES = 10
STRATEGY_STATES = frozenset(
    {State.PRE_QUALIFICATION, State.QUALIFICATION, State.KICK_OFF, State.BID_PRODUCTION}
)
"""The strategy is chosen at kick-off and may change until the governance review starts."""
CLOSED_WITHOUT_ORDER = frozenset({State.NO_BID, State.LOST, State.WITHDRAWN})


def _check_strategy(ctx: Context, strategy: str, where: dict[str, object] | None = None) -> None:
    known = load_proposal_rules(ctx.settings.rules_dir).strategies
    if strategy not in known:
        raise InputError(
            f"'{strategy}' is not a service strategy of rules/proposal.yaml ({', '.join(known)})",
            **(where or {"field": "strategy"}),  # type: ignore[arg-type]
        )


def _themes(themes: list[str]) -> list[str]:
    cleaned = [t.strip() for t in themes if t.strip()]
    if len(cleaned) > MAX_WIN_THEMES:
        raise InputError(f"at most {MAX_WIN_THEMES} win themes", field="win_theme")
    for theme in cleaned:
        if len(theme) > MAX_TEXT or has_control_characters(theme):
            raise InputError(
                f"a win theme is at most {MAX_TEXT} characters, without control characters",
                field="win_theme",
            )
    return cleaned


def check_offer_fields(ctx: Context, spec: OpportunitySpec) -> None:
    """The opportunity YAML's service strategy names one of rules/proposal.yaml."""
    if spec.service_strategy is not None:
        _check_strategy(ctx, spec.service_strategy, spec.where("service_strategy"))
    for index, theme in enumerate(spec.win_themes):
        if has_control_characters(theme):
            raise InputError("contains a control character", **spec.where("win_themes", str(index)))


def set_service_strategy(
    ctx: Context, ref: str, *, strategy: str, win_themes: list[str], by: str
) -> StepResult:
    """Choose how we sell this bid and why the customer should pick us (its win themes)."""
    _check_strategy(ctx, strategy)
    themes = _themes(win_themes)
    with refusals_kept(ctx, ref, "service_strategy", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        state = opportunity.state
        if state not in STRATEGY_STATES:
            raise TransitionRefused(
                f"{opportunity.ref} is in {state.value}: the service strategy is chosen at "
                "kick-off and may change until the governance review starts"
            )
        if opportunity.service_strategy == strategy and list(opportunity.win_themes) == themes:
            return StepResult(
                opportunity.ref,
                state,
                state,
                f"service strategy already {strategy}",
                recorded=False,
            )
        opportunity.service_strategy, opportunity.win_themes = strategy, themes
        session.add(opportunity)
        audit(
            session,
            ctx,
            opportunity,
            "service_strategy_set",
            actor=by,
            inputs={"strategy": strategy, "win_themes": themes},
        )
        return StepResult(
            opportunity.ref,
            state,
            state,
            f"service strategy {strategy}"
            + (f" with {len(themes)} win theme(s)" if themes else ""),
        )


def _entity(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_TEXT or has_control_characters(text):
        raise InputError(
            f"must be 1 to {MAX_TEXT} characters, without control characters", field=name
        )
    return text


def _check_contract_start(session: Session, opportunity: Opportunity, start: date) -> None:
    """A contract cannot start before the bid was received, nor before the offer went out."""
    if start < opportunity.received_at.date():
        raise InputError(
            f"{start.isoformat()} is before the bid was received", field="contract-start"
        )
    submitted = first_submitted_on(session, opportunity)
    if submitted is not None and start < submitted:
        raise InputError(
            f"{start.isoformat()} is before the offer was submitted ({submitted.isoformat()})",
            field="contract-start",
        )


def set_order_details(
    ctx: Context,
    ref: str,
    *,
    by: str,
    legal_entity: str | None = None,
    billing_entity: str | None = None,
    purchase_order: str | None = None,
    contract_start: date | None = None,
) -> StepResult:
    """Record what provisioning needs from the customer (only the fields given change).
    The contract start is the agreed start of the contract: a signed bid's contract moves
    with it (its end, revenue months, order intake and renewal follow)."""
    changes = {
        "legal_entity": _entity(legal_entity, "legal-entity"),
        "billing_entity": _entity(billing_entity, "billing-entity"),
        "purchase_order": _entity(purchase_order, "po"),
        "contract_start": contract_start,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise InputError(
            "give --legal-entity, --billing-entity, --po or --contract-start", field="order"
        )
    with refusals_kept(ctx, ref, "order_details", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        state = opportunity.state
        if state in CLOSED_WITHOUT_ORDER:
            raise TransitionRefused(f"{opportunity.ref} is {state.value}: nothing will be ordered")
        if contract_start is not None:
            _check_contract_start(session, opportunity, contract_start)
        for key, value in changes.items():
            setattr(opportunity, key, value)
        session.add(opportunity)
        if contract_start is not None and move_contract_start(session, opportunity, contract_start):
            changes["contract_end"] = end_of_term(contract_start, opportunity.contract_months)
        audit(
            session,
            ctx,
            opportunity,
            "order_details_set",
            actor=by,
            inputs={k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()},
        )
        cause = "order:" + ",".join(f"{k}={v}" for k, v in sorted(changes.items()))
        render_after_change(session, ctx, opportunity, cause=cause, actor=by)
        return StepResult(
            opportunity.ref, state, state, "order details recorded: " + ", ".join(sorted(changes))
        )
