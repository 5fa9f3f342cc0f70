"""Quotes into a bid: the file checked, the rows applied, and what the new margin means.

A firm quote that pushes the margin below the governance floor invalidates a granted
financial approval and asks for a new one, in the same transaction as the import, with an
audit event that says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import select

from orchestrator.bid.facts import account_of, get_opportunity
from orchestrator.bid.governance import invalidate_approvals, margin_floor_pct
from orchestrator.bid.people import check_actor
from orchestrator.bid.recording import audit, refusals_kept
from orchestrator.commercial.quote_import import apply_quotes, total_contract_value_eur
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.intake.quotes import parse_quote_file
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Area, Site


@dataclass(frozen=True)
class ImportResult:
    imported: int
    firm: int
    budgetary: int
    superseded: int
    expired: tuple[str, ...]
    margin_before: float | None
    margin_after: float | None
    margin_floor_pct: float | None
    invalidated_approvals: tuple[int, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "firm": self.firm,
            "budgetary": self.budgetary,
            "superseded": self.superseded,
            "expired": list(self.expired),
            "margin_before_pct": self.margin_before,
            "margin_after_pct": self.margin_after,
            "margin_floor_pct": self.margin_floor_pct,
            "invalidated_approvals": list(self.invalidated_approvals),
        }


def import_quotes(ctx: Context, ref: str, path: Path, *, actor: str) -> ImportResult:
    """Import a provider quote file into the bid: every row or none."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        site_ids = session.exec(
            select(Site.site_id).where(Site.opportunity_id == opportunity.id)
        ).all()
    parsed = parse_quote_file(path, site_ids, catalogue)
    now = ctx.clock()
    with refusals_kept(ctx, ref, "quotes_import", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        applied = apply_quotes(
            session, opportunity, parsed, catalogue=catalogue, today=now.date(), now=now
        )
        floor: float | None = None
        invalidated: list[int] = []
        if applied.firm:
            tier = account_of(session, opportunity).tier
            tcv = total_contract_value_eur(opportunity, applied.after, catalogue)
            floor = margin_floor_pct(ctx, tier, tcv, applied.after.margin_pct)
            new, old = applied.after.margin_pct, applied.before.margin_pct
            drops = new is not None and new < floor
            worse = old is None or (new is not None and new < old)
            if drops and worse:
                old_text = "none" if old is None else f"{old:.2f}%"
                invalidated = invalidate_approvals(
                    session,
                    ctx,
                    opportunity,
                    areas=(Area.FINANCIAL,),
                    actor=actor,
                    reason=(
                        f"firm quotes moved the bid margin from {old_text} to {new:.2f}%, "
                        f"below the governance floor of {floor:.2f}%"
                    ),
                    inputs={
                        "margin_before_pct": old,
                        "margin_after_pct": new,
                        "margin_floor_pct": floor,
                    },
                )
        audit(
            session,
            ctx,
            opportunity,
            "quotes_imported",
            actor=actor,
            reason=f"{applied.imported} quote(s) from {path.name}",
            inputs={
                "file": path.name,
                "firm": applied.firm,
                "budgetary": applied.budgetary,
                "superseded": applied.superseded,
            },
        )
        return ImportResult(
            imported=applied.imported,
            firm=applied.firm,
            budgetary=applied.budgetary,
            superseded=applied.superseded,
            expired=applied.expired,
            margin_before=applied.before.margin_pct,
            margin_after=applied.after.margin_pct,
            margin_floor_pct=floor,
            invalidated_approvals=tuple(invalidated),
        )
