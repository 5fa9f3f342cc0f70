"""Quote import: a provider's quote file into the bid, whole or not at all, and its effects.

A firm quote supersedes every earlier quote of its site; a budgetary quote supersedes
earlier budgetary ones. A firm quote that pushes the margin below the governance floor
invalidates a granted financial approval, in the same transaction as the import. Reading
and checking the file lives in `orchestrator.intake.quotes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from orchestrator.commercial.quotes import (
    BidMargin,
    QuoteCost,
    compute_margin,
    current_quotes,
    ordered_sites,
    quote_rank,
)
from orchestrator.decisions.catalogue import Catalogue
from orchestrator.intake.quotes import parse_quote_file
from orchestrator.store.models import (
    Account,
    Approval,
    ApprovalStatus,
    Area,
    AuditEvent,
    Opportunity,
    Quote,
    Site,
    utcnow,
)

APPROVAL_INVALIDATED = "approval_invalidated"


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


MarginFloor = Callable[[str, float, float | None], float]
"""(tier, total contract value EUR, margin %) → the governance margin floor in percent."""


def governance_margin_floor(rules: Any) -> MarginFloor:
    """The floor from the governance decision table, through the rules-engine port."""
    from orchestrator.decisions.engine import governance_requirements

    def floor(tier: str, tcv: float, margin: float | None) -> float:
        decision = governance_requirements(
            rules, tier=tier, total_contract_value_eur=tcv, margin_pct=margin
        )
        return float(decision.outputs["margin_floor_pct"])

    return floor


def import_quotes(
    session: Session,
    opportunity: Opportunity,
    path: Path,
    *,
    actor: str,
    catalogue: Catalogue,
    margin_floor: MarginFloor,
    today: date,
    now: datetime | None = None,
) -> ImportResult:
    """Import a provider quote file into the bid, in the caller's transaction.

    A firm quote supersedes every earlier quote of its site; a budgetary quote supersedes
    earlier budgetary ones (and is itself superseded at once if the site has a firm quote).
    When the file holds firm quotes and the margin drops below the governance floor, granted
    financial approvals become invalidated, a new one is requested, and an audit event says
    why. Expired quotes (valid_until < today) are imported and flagged.
    """
    opportunity_id = opportunity.id or 0
    stamp = now or utcnow()
    sites = ordered_sites(session, opportunity_id)
    all_site_ids = session.exec(
        select(Site.site_id).where(Site.opportunity_id == opportunity_id)
    ).all()
    parsed = parse_quote_file(path, all_site_ids, catalogue)
    before = compute_margin(opportunity, sites, current_quotes(session, opportunity_id), catalogue)

    existing = session.exec(
        select(Quote).where(Quote.opportunity_id == opportunity_id, Quote.superseded == False)  # noqa: E712
    ).all()
    live: dict[str, list[Quote]] = {}
    for quote in existing:
        live.setdefault(quote.site_id, []).append(quote)

    superseded = 0
    firm_sites = {q.site_id for q in parsed if q.kind == "firm"}
    new_rows: list[dict[str, Any]] = []
    fresh: dict[str, QuoteCost] = {}
    for item in sorted(parsed, key=lambda q: (q.kind != "budgetary", q.row)):
        held = live.get(item.site_id, [])
        # a budgetary quote never replaces a firm one, old or in the same file
        dead_on_arrival = item.kind == "budgetary" and (
            item.site_id in firm_sites or any(q.kind == "firm" for q in held)
        )
        for old in held:
            if item.kind == "firm" or old.kind == "budgetary":
                old.superseded = True
                superseded += 1
                session.add(old)
        live[item.site_id] = [q for q in held if not q.superseded]
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
                "imported_at": stamp,
            }
        )
    # one multi-row INSERT: thousands of quotes per file, and the ids are not needed here
    session.execute(insert(Quote), new_rows)

    quotes_now: dict[str, QuoteCost] = {
        site_id: max(held, key=quote_rank) for site_id, held in live.items() if held
    }
    quotes_now.update(fresh)
    after = compute_margin(opportunity, sites, quotes_now, catalogue)
    floor: float | None = None
    invalidated: list[int] = []
    if firm_sites:
        tier = _tier(session, opportunity)
        tcv = _total_contract_value_eur(opportunity, after, catalogue)
        floor = margin_floor(tier, tcv, after.margin_pct)
        new_margin = after.margin_pct
        old_margin = before.margin_pct
        drops = new_margin is not None and new_margin < floor
        worse = old_margin is None or (new_margin is not None and new_margin < old_margin)
        if drops and worse:
            invalidated = _invalidate_financial_approvals(
                session,
                opportunity,
                actor=actor,
                old=old_margin,
                new=new_margin,
                floor=floor,
                now=stamp,
            )
    session.flush()
    return ImportResult(
        imported=len(parsed),
        firm=sum(1 for q in parsed if q.kind == "firm"),
        budgetary=sum(1 for q in parsed if q.kind == "budgetary"),
        superseded=superseded,
        expired=tuple(q.site_id for q in parsed if q.valid_until < today),
        margin_before=before.margin_pct,
        margin_after=after.margin_pct,
        margin_floor_pct=floor,
        invalidated_approvals=tuple(invalidated),
    )


def _total_contract_value_eur(
    opportunity: Opportunity, margin: BidMargin, catalogue: Catalogue
) -> float:
    """The value governance reads: the opportunity's revenue in EUR (as at the review),
    else the contract value of the priced sites."""
    currency = opportunity.currency.upper()
    if opportunity.total_revenue > 0 and currency in catalogue.fx.rates:
        return catalogue.fx.to_eur(opportunity.total_revenue, currency)
    return margin.total_contract_value_eur


def _tier(session: Session, opportunity: Opportunity) -> str:
    account = session.get(Account, opportunity.account_id)
    return account.tier if account is not None else "major"


def _invalidate_financial_approvals(
    session: Session,
    opportunity: Opportunity,
    *,
    actor: str,
    old: float | None,
    new: float | None,
    floor: float,
    now: datetime,
) -> list[int]:
    granted = session.exec(
        select(Approval).where(
            Approval.opportunity_id == opportunity.id,
            Approval.area == Area.FINANCIAL,
            Approval.status == ApprovalStatus.GRANTED,
        )
    ).all()
    if not granted:
        return []
    old_text = "none" if old is None else f"{old:.2f}%"
    reason = (
        f"firm quotes moved the bid margin from {old_text} to {new:.2f}%, "
        f"below the governance floor of {floor:.2f}%"
    )
    ids: list[int] = []
    for approval in granted:
        approval.status = ApprovalStatus.INVALIDATED
        approval.reason = reason
        approval.decided_at = now
        session.add(approval)
        ids.append(approval.id or 0)
    session.add(
        Approval(
            opportunity_id=opportunity.id or 0,
            area=Area.FINANCIAL,
            status=ApprovalStatus.REQUESTED,
            proposal_hash=opportunity.proposal_hash,
            requested_at=now,
            reason=reason,
        )
    )
    session.add(
        AuditEvent(
            opportunity_id=opportunity.id or 0,
            at=now,
            actor=actor,
            from_state=opportunity.state,
            to_state=opportunity.state,
            trigger=APPROVAL_INVALIDATED,
            reason=reason,
            inputs={
                "invalidated_approval_ids": ids,
                "margin_before_pct": old,
                "margin_after_pct": new,
                "margin_floor_pct": floor,
            },
        )
    )
    return ids
