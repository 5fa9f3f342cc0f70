"""Intake exceptions as design tasks, and the commands that resolve them.

An import takes a plausible row a person must decide on (a site asking more bandwidth than
its access carries or the price list sells; a quote far from the list price) and opens a
task for the role the rule names — the solution consultant. While any is open the design may
not be frozen and bid production's exit criterion `exceptions_resolved` holds the bid; `bid
status` lists them. Each is resolved by one command with a reason, kept on the trail:

    bid design propose OPP --site S --access fiber [--bandwidth N] --reason ...
        the site gets what we propose (quoted, priced, ordered); it keeps what the customer
        asked (`asked_access`, `asked_bandwidth_mbps`): the proposal and the compliance
        matrix show an "offered alternative"
    bid quotes accept OPP --site S --reason ...   use the outlier quote as it is
    bid quotes requote OPP --site S               drop it and ask the carrier again
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.intake_tasks import (
    QUOTE_OUTLIER,
    SITE_EXCEPTION,
    close_exception_tasks,
    exception_count,
)
from orchestrator.bid.producing.changes import Change, apply_change, check_allowed
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, refusals_kept
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.errors import InputError, InputErrors
from orchestrator.intake.site_checks import SiteRules, bandwidth_finding
from orchestrator.store.db import transaction
from orchestrator.store.models import Access, Opportunity, Quote, Site

# --- bid design propose ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """What we propose for one site instead of what the customer asked."""

    site_id: str
    access: str
    bandwidth_mbps: int | None
    reason: str
    row: int | None = None
    """The row of a proposals CSV it came from (for a refusal)."""


@dataclass(frozen=True)
class Proposed:
    sites: tuple[str, ...]
    resolved: int
    still_open: int


def propose_design(
    ctx: Context, ref: str, proposals: Sequence[Proposal], *, actor: str, file: str | None = None
) -> Proposed:
    """Give each site the proposed access (and bandwidth), keeping the customer's ask; close
    its design tasks. All or nothing: a proposal that is itself implausible, or names an
    unknown site, refuses them all (one line per bad one)."""
    rules = SiteRules.from_catalogue(catalogue_for(ctx.settings.rules_dir))
    accesses = {a.value for a in Access}
    with refusals_kept(ctx, ref, "design_propose", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        check_allowed(ctx, opportunity, "sites")
        wanted = {p.site_id for p in proposals}
        sites = {
            s.site_id: s
            for s in session.exec(
                select(Site).where(
                    Site.opportunity_id == opportunity.id, col(Site.site_id).in_(wanted)
                )
            ).all()
        }
        problems: list[InputError] = []
        seen: set[str] = set()
        for proposal in proposals:

            def bad(field: str, message: str, proposal: Proposal = proposal) -> None:
                problems.append(InputError(message, file=file, row=proposal.row, field=field))

            site = sites.get(proposal.site_id)
            if site is None:
                bad("site", f"no site '{proposal.site_id}' in {opportunity.ref}")
                continue
            if proposal.site_id in seen:
                bad("site", f"site '{proposal.site_id}' is proposed twice")
                continue
            seen.add(proposal.site_id)
            if proposal.access not in accesses:
                bad("access", f"'{proposal.access}' is not one of {', '.join(sorted(accesses))}")
                continue
            bandwidth = proposal.bandwidth_mbps or site.bandwidth_mbps
            found = bandwidth_finding(proposal.access, site.service, bandwidth, rules)
            if found is not None:
                bad("bandwidth", f"site {site.site_id}: {found.message}")
        if problems:
            if len(problems) == 1:
                raise problems[0]
            raise InputErrors(file or "proposals", problems, outcome="nothing proposed")
        for proposal in proposals:
            site = sites[proposal.site_id]
            if site.asked_access is None:  # keep the first ask: a second proposal replaces ours
                site.asked_access, site.asked_bandwidth_mbps = site.access, site.bandwidth_mbps
            was = {"access": _plain(site.access), "bandwidth_mbps": site.bandwidth_mbps}
            site.access = proposal.access
            site.bandwidth_mbps = proposal.bandwidth_mbps or site.bandwidth_mbps
            site.proposal_reason = proposal.reason
            # the technical approver's view of the design against the ask reads `asked`
            asked = {**was, **(site.asked or {})}
            site.asked = {k: v for k, v in asked.items() if _plain(getattr(site, k)) != v}
            site.redesign_reason = proposal.reason if site.asked else None
            session.add(site)
        session.flush()
        resolved = close_exception_tasks(session, ctx, opportunity, SITE_EXCEPTION, wanted)
        ids = sorted(wanted)
        digest = hashlib.sha256(
            "|".join(f"{p.site_id}:{p.access}:{p.bandwidth_mbps}" for p in proposals).encode()
        ).hexdigest()
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind="sites",
                what=f"design proposed for {len(ids)} site(s)",
                key=digest[:16],
                lines_changed=len(ids),
            ),
            actor=actor,
        )
        audit(
            session,
            ctx,
            opportunity,
            "design_proposed",
            actor=actor,
            reason=proposals[0].reason if len(proposals) == 1 else f"{len(ids)} sites",
            inputs={
                "proposals": [
                    {
                        "site_id": p.site_id,
                        "access": p.access,
                        "bandwidth_mbps": p.bandwidth_mbps,
                        "reason": p.reason,
                    }
                    for p in proposals
                ],
                "resolved": resolved,
                "change_rule": change.rule,
            },
        )
        left = exception_count(session, opportunity)
        return Proposed(tuple(ids), resolved, len(left.open))


# --- bid quotes accept | requote ------------------------------------------------------------


@dataclass(frozen=True)
class QuoteDecided:
    site_id: str
    quotes: int
    still_open: int


def _outliers(session: Session, opportunity: Opportunity, site_id: str) -> list[Quote]:
    return list(
        session.exec(
            select(Quote).where(
                Quote.opportunity_id == opportunity.id,
                Quote.site_id == site_id,
                col(Quote.superseded).is_(False),
                col(Quote.outlier).is_not(None),
            )
        ).all()
    )


def decide_outlier(
    ctx: Context, ref: str, site_id: str, *, accept: bool, reason: str | None, actor: str
) -> QuoteDecided:
    """Accept a site's outlier quote (the margin counts it from now on) or drop it to ask
    the carrier again (the site is unquoted until a new quote comes in)."""
    trigger = "quote_accepted" if accept else "quote_requoted"
    with refusals_kept(ctx, ref, trigger, actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        check_allowed(ctx, opportunity, "quotes")
        quotes = _outliers(session, opportunity, site_id)
        if not quotes:
            raise InputError(
                f"site {site_id} of {opportunity.ref} has no quote waiting as an outlier",
                field="site",
            )
        ids = [q.id for q in quotes]
        values = {"outlier": None} if accept else {"superseded": True}
        session.execute(
            update(Quote)
            .where(col(Quote.id).in_(ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        close_exception_tasks(session, ctx, opportunity, QUOTE_OUTLIER, {site_id})
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind="quotes",
                what=f"outlier quote of site {site_id} {'accepted' if accept else 'dropped'}",
                key=f"{trigger}:{site_id}:{min(i or 0 for i in ids)}",
                lines_changed=1,
            ),
            actor=actor,
        )
        audit(
            session,
            ctx,
            opportunity,
            trigger,
            actor=actor,
            reason=reason,
            inputs={
                "site_id": site_id,
                "quotes": [
                    {
                        "provider": q.provider,
                        "kind": q.kind.value,
                        "monthly_cost": q.monthly_cost,
                        "currency": q.currency,
                        "outlier": q.outlier,
                    }
                    for q in quotes
                ],
                "change_rule": change.rule,
            },
        )
        left = exception_count(session, opportunity)
        return QuoteDecided(site_id, len(quotes), len(left.open))


def _plain(value: Any) -> Any:
    """An enum's value, anything else as it is (what `Site.asked` keeps)."""
    return getattr(value, "value", value)
