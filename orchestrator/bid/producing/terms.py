"""The commercial terms of a bid after intake: its non-standard terms and its prices.

Each change goes through rules/changes.yaml (`bid.changes`): recorded in bid production
(a price change reopens the design), legal asked again for new terms under review, refused
where the approvers' or the customer's version would change beneath them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from orchestrator.bid.facts import StepResult, get_opportunity, get_person
from orchestrator.bid.producing.changes import Change, apply_change, check_allowed
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, refusals_kept
from orchestrator.context import Context
from orchestrator.decisions.catalogue import validate_pricing
from orchestrator.store.db import transaction


def set_deviations(ctx: Context, ref: str, deviations: list[str], *, by: str) -> StepResult:
    """Record the non-standard terms the customer asks for (empty: standard terms).

    A change of terms goes through rules/changes.yaml: under review it asks legal again."""
    cleaned = [d.strip() for d in deviations if d.strip()]
    with refusals_kept(ctx, ref, "terms", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        person = get_person(session, by)
        if cleaned == list(opportunity.deviations):
            state = opportunity.state
            return StepResult(
                opportunity.ref,
                state,
                state,
                "the terms are unchanged; nothing recorded",
                recorded=False,
            )
        check_allowed(ctx, opportunity, "terms")
        before = list(opportunity.deviations)
        opportunity.deviations = cleaned
        session.add(opportunity)
        session.flush()
        digest = hashlib.sha256("\n".join(cleaned).encode()).hexdigest()
        what = f"{len(cleaned)} non-standard term(s)" if cleaned else "back to the standard terms"
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind="terms",
                what=f"terms changed: {what}",
                key=digest[:16],
                lines_changed=len(set(before) ^ set(cleaned)),
            ),
            actor=person.email,
        )
        audit(
            session,
            ctx,
            opportunity,
            "terms_changed",
            actor=person.email,
            inputs={"before": before, "after": cleaned, "change": change.to_json()},
        )
        state = opportunity.state
        return StepResult(opportunity.ref, state, opportunity.state, f"terms recorded: {what}")


def set_pricing(ctx: Context, ref: str, changes: dict[str, Any], *, by: str) -> StepResult:
    """Change the bid's price overrides (discount, prices per access type or service).

    A change of prices goes through rules/changes.yaml: in production it reopens the design;
    under review or once submitted it is refused (the approvers' version would change)."""
    with refusals_kept(ctx, ref, "terms", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        person = get_person(session, by)
        check_allowed(ctx, opportunity, "prices")
        before = dict(opportunity.pricing or {})
        merged = {**before, **changes}
        for key in ("monthly_price", "one_off_price"):
            if key in changes:
                merged[key] = {**before.get(key, {}), **changes[key]}
        after = validate_pricing(merged, "--pricing")
        state = opportunity.state
        if after == before:
            return StepResult(
                opportunity.ref,
                state,
                state,
                "the prices are unchanged; nothing recorded",
                recorded=False,
            )
        opportunity.pricing = after
        session.add(opportunity)
        session.flush()
        digest = hashlib.sha256(repr(sorted(after.items())).encode()).hexdigest()
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(kind="prices", what="prices changed", key=digest[:16], lines_changed=0),
            actor=person.email,
        )
        audit(
            session,
            ctx,
            opportunity,
            "prices_changed",
            actor=person.email,
            inputs={"before": before, "after": after, "change": change.to_json()},
        )
        return StepResult(opportunity.ref, state, state, f"prices recorded: {after}")
