"""Applying checked provider quotes to a bid's quote rows, and the margin before and after.

A firm quote supersedes every earlier quote of its site; a budgetary quote supersedes
earlier budgetary ones (and is itself superseded at once if the site has a firm quote).
Each quote records the site spec it priced; a stale quote (of an earlier spec) is superseded
by any new quote of its site and never blocks one.
This runs inside the caller's transaction (the `orchestrator.bid.producing.quotes` service,
which also decides what the new margin means for governance). Reading and checking the file
lives in `orchestrator.intake.quotes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from orchestrator.commercial.quotes import (
    BidMargin,
    QuoteCost,
    compute_margin,
    ordered_sites,
    quote_rank,
    site_specs,
    spec_changes,
)
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.intake.quotes import ParsedQuote
from orchestrator.store.models import Opportunity, Quote, QuoteKind


@dataclass(frozen=True)
class AppliedQuotes:
    """What one file did to the bid's quotes."""

    imported: int
    firm: int
    budgetary: int
    superseded: int
    expired: tuple[str, ...]
    before: BidMargin
    after: BidMargin


def apply_quotes(
    session: Session,
    opportunity: Opportunity,
    parsed: list[ParsedQuote],
    *,
    catalogue: Catalogue,
    today: date,
    now: datetime,
    outliers: Mapping[int, str] | None = None,
) -> AppliedQuotes:
    """Insert the quotes and supersede what they replace; the margin before and after.

    Expired quotes (valid_until < today) are imported and reported. `outliers` (by row: why)
    are imported waiting for a person: the margin counts their sites as unquoted until one
    is accepted.
    """
    outliers = outliers or {}
    opportunity_id = opportunity.id or 0
    sites = ordered_sites(session, opportunity_id)
    specs = site_specs(session, opportunity_id)
    existing = session.exec(
        select(Quote).where(Quote.opportunity_id == opportunity_id, Quote.superseded == False)  # noqa: E712
    ).all()
    live: dict[str, list[Quote]] = {}
    gone: set[int] = set()  # ids of the stored quotes superseded by this file
    arriving = {q.site_id for q in parsed}
    for quote in existing:
        if quote.site_id in specs and spec_changes(quote.spec, specs[quote.site_id]):
            if quote.site_id in arriving:  # a quote for the new spec replaces a stale one
                gone.add(quote.id or 0)
            continue  # stale: counts for nothing, blocks nothing
        live.setdefault(quote.site_id, []).append(quote)
    counted = {  # an outlier not yet accepted counts as no quote
        site_id: max(counting, key=quote_rank)
        for site_id, held in live.items()
        if (counting := [q for q in held if q.outlier is None])
    }
    before = compute_margin(opportunity, sites, counted, catalogue)

    firm_sites = {q.site_id for q in parsed if q.kind == QuoteKind.FIRM}
    new_rows: list[dict[str, Any]] = []
    fresh: dict[str, QuoteCost] = {}
    for item in sorted(parsed, key=lambda q: (q.kind != "budgetary", q.row)):
        held = live.get(item.site_id, [])
        # a budgetary quote never replaces a firm one, old or in the same file
        dead_on_arrival = item.kind == QuoteKind.BUDGETARY and (
            item.site_id in firm_sites or any(q.kind == QuoteKind.FIRM for q in held)
        )
        kept = []
        for old in held:
            if item.kind == QuoteKind.FIRM or old.kind == QuoteKind.BUDGETARY:
                gone.add(old.id or 0)
            else:
                kept.append(old)
        live[item.site_id] = kept
        if not dead_on_arrival:
            fresh[item.site_id] = item  # it superseded everything still held for its site
        new_rows.append(
            {
                "opportunity_id": opportunity_id,
                "site_id": item.site_id,
                "provider": item.provider,
                "kind": item.kind,
                "monthly_cost": item.monthly_cost,
                "one_off_cost": item.one_off_cost,
                "currency": item.currency,
                "valid_until": item.valid_until,
                "superseded": dead_on_arrival,
                "imported_at": now,
                "provider_reference": item.provider_reference,
                "delivery_days": item.delivery_days,
                "outlier": outliers.get(item.row),
                "spec": specs.get(item.site_id),
            }
        )
    superseded = len(gone)
    if gone:  # one UPDATE for them all, not one per row
        session.execute(
            update(Quote)
            .where(col(Quote.id).in_(sorted(gone)))
            .values(superseded=True)
            .execution_options(synchronize_session=False)
        )
    # one multi-row INSERT: thousands of quotes per file, and the ids are not needed here
    session.execute(insert(Quote), new_rows)

    quotes_now: dict[str, QuoteCost] = {
        site_id: max(counting, key=quote_rank)
        for site_id, held in live.items()
        if (counting := [q for q in held if q.outlier is None])
    }
    quotes_now.update(fresh)
    for fresh_quote in parsed:  # an outlier counts as missing until accepted
        if fresh_quote.row in outliers and fresh.get(fresh_quote.site_id) is fresh_quote:
            quotes_now.pop(fresh_quote.site_id, None)
    after = compute_margin(opportunity, sites, quotes_now, catalogue)
    session.flush()
    return AppliedQuotes(
        imported=len(parsed),
        firm=sum(1 for q in parsed if q.kind == QuoteKind.FIRM),
        budgetary=sum(1 for q in parsed if q.kind == QuoteKind.BUDGETARY),
        superseded=superseded,
        expired=tuple(q.site_id for q in parsed if q.valid_until < today),
        before=before,
        after=after,
    )
