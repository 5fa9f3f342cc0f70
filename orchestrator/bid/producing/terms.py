"""The commercial terms of a bid after intake: its non-standard terms and its prices.

Each change goes through rules/changes.yaml (`bid.changes`): recorded in bid production
(a price change reopens the design), legal asked again for new terms under review, refused
where the approvers' or the customer's version would change beneath them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session

from orchestrator.bid.facts import StepResult, get_opportunity, get_person
from orchestrator.bid.producing.changes import Change, apply_change, check_allowed
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, refusals_kept
from orchestrator.commercial.quotes import catalogue_for, site_facts
from orchestrator.context import Context
from orchestrator.decisions.catalogue import scope_key, validate_pricing
from orchestrator.errors import InputError
from orchestrator.store.db import transaction
from orchestrator.store.models import Opportunity


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


def _line_price(
    session: Session,
    ctx: Context,
    opportunity: Opportunity,
    given: dict[str, Any],
    *,
    by: str,
    reason: str | None,
) -> tuple[str, dict[str, Any]]:
    """Check a price set for a site, a country or a band, and return its key and entry.

    The site or country must be the bid's, the band one the price list sells; a reason is
    required (the price is recorded with who set it and why)."""
    if not (reason or "").strip():
        raise InputError(
            "a price for a site, country or band needs --reason (why this line is priced so)",
            field="reason",
        )
    scope = dict(given["scope"])
    sites = site_facts(session, opportunity.id or 0)
    if "site" in scope and not any(s.site_id == scope["site"] for s in sites):
        raise InputError(f"no ordered site {scope['site']} on {opportunity.ref}", field="site")
    if "country" in scope:
        scope["country"] = str(scope["country"]).strip().upper()
        if not any(s.country == scope["country"] for s in sites):
            raise InputError(
                f"no site of {opportunity.ref} is in '{scope['country']}'", field="country"
            )
    if "band" in scope:
        access, _, up_to = str(scope["band"]).strip().lower().partition(":")
        prices = catalogue_for(ctx.settings.rules_dir).prices
        ends = sorted(
            {
                band.up_to_mbps
                for service in prices.services
                for band in prices.bands(service, access)
            }
        )
        if not up_to.isdigit() or int(up_to) not in ends:
            sold = ", ".join(f"{access}:{end}" for end in ends) or "none for that access type"
            raise InputError(
                f"'{scope['band']}' is not a price band (ACCESS:UP_TO_MBPS; the price list "
                f"sells {sold})",
                field="band",
            )
        scope["band"] = f"{access}:{int(up_to)}"
    entry: dict[str, Any] = {k: given[k] for k in ("monthly", "one_off") if k in given}
    entry.update(by=by, reason=str(reason).strip())
    return scope_key(**scope), entry


def set_pricing(
    ctx: Context, ref: str, changes: dict[str, Any], *, by: str, reason: str | None = None
) -> StepResult:
    """Change the bid's price overrides: discount, prices per access type or service, or a
    price where the loss is (one site, a country, a price band) with who and why.

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
        scope = None
        if "line_price" in changes:
            scope, entry = _line_price(
                session, ctx, opportunity, changes["line_price"], by=person.email, reason=reason
            )
            merged["line_price"] = {**before.get("line_price", {}), scope: entry}
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
        what = f"prices changed for {scope}" if scope else "prices changed"
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(kind="prices", what=what, key=digest[:16], lines_changed=0),
            actor=person.email,
        )
        audit(
            session,
            ctx,
            opportunity,
            "prices_changed",
            actor=person.email,
            reason=reason,
            inputs={"before": before, "after": after, "change": change.to_json()},
        )
        if scope:
            return StepResult(
                opportunity.ref,
                state,
                state,
                f"prices recorded: {scope} {after['line_price'][scope]}",
            )
        return StepResult(opportunity.ref, state, state, f"prices recorded: {after}")
