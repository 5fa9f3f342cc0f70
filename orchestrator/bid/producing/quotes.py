"""Quotes into a bid: the file checked, the rows applied, and what the change means.

A file is refused whole for any bad row (its format: `intake.quotes`; against the bid: the
provider routed to the site, an expired firm quote, a cost far above the list price:
`commercial.quote_checks`). A file whose content was imported before is recognised by its
hash and applied once only, so re-running an import that was killed after its commit
never doubles the quotes. What the new costs mean for governance is `rules/changes.yaml`'s
to say (`bid.changes`): recorded in production (and the design reopened), the approvals they
touch asked again under review, finance told after submission — never an approval that can
no longer be given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from orchestrator.bid.facts import get_opportunity
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.measures.exit_criteria import exit_check
from orchestrator.bid.measures.intake_tasks import QUOTE_OUTLIER, open_exception_tasks
from orchestrator.bid.producing.changes import Change, ChangeOutcome, apply_change, check_allowed
from orchestrator.bid.producing.sourcing import answer_requests
from orchestrator.bid.team.people import check_actor
from orchestrator.bid.trail.recording import audit, complete_milestones, refusals_kept
from orchestrator.commercial.quote_checks import check_quotes
from orchestrator.commercial.quote_import import apply_quotes
from orchestrator.commercial.quotes import catalogue_for
from orchestrator.context import Context
from orchestrator.decisions.offer_rules import load_delivery
from orchestrator.errors import InputError
from orchestrator.intake.findings import Finding, counts
from orchestrator.intake.quotes import parse_quote_file
from orchestrator.lifecycle.table import State
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Opportunity, QuoteImport, QuoteKind, Site

BUDGETARY_MILESTONE = "budgetary_quotes_in"
"""Done when every site holds a valid quote."""
FIRM_MILESTONE = "firm_quotes_in"
"""Done when every outbound site holds a valid firm quote."""


@dataclass(frozen=True)
class ImportResult:
    imported: int
    firm: int
    budgetary: int
    superseded: int
    expired: tuple[str, ...]
    margin_before: float | None
    margin_after: float | None
    content_hash: str = ""
    change: ChangeOutcome | None = None
    answered: tuple[str, ...] = ()
    already: str | None = None
    """When the same content was imported before: when and by whom (nothing was applied)."""
    open_criteria: tuple[str, ...] = field(default=())
    outliers: tuple[Finding, ...] = ()
    """Quotes far from the list price, imported waiting for bid quotes accept|requote."""
    dry_run: bool = False

    @property
    def margin_floor_pct(self) -> float | None:
        return self.change.floor if self.change else None

    @property
    def invalidated_approvals(self) -> tuple[int, ...]:
        return self.change.invalidated if self.change else ()

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
            "content_hash": self.content_hash,
            "already_imported": self.already,
            "change": self.change.to_json() if self.change else None,
            "answered_requests": list(self.answered),
            "open_criteria": list(self.open_criteria),
            "dry_run": self.dry_run,
            "findings": [f.as_json() for f in self.outliers],
            "counts": counts(self.outliers),
        }


def file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None


def _previous(session: Session, opportunity: Opportunity, digest: str) -> QuoteImport | None:
    return session.exec(
        select(QuoteImport).where(
            QuoteImport.opportunity_id == opportunity.id, QuoteImport.content_hash == digest
        )
    ).first()


def _already(ref: str, previous: QuoteImport, digest: str) -> ImportResult:
    when = previous.imported_at.strftime("%Y-%m-%d %H:%M")
    return ImportResult(
        imported=0,
        firm=0,
        budgetary=0,
        superseded=0,
        expired=(),
        margin_before=None,
        margin_after=None,
        content_hash=digest,
        already=f"{previous.file_name} on {when} by {previous.actor}",
    )


def import_quotes(
    ctx: Context, ref: str, path: Path, *, actor: str, dry_run: bool = False
) -> ImportResult:
    """Import a provider quote file into the bid: every row or none, and once per content.
    Outliers (far from the list price) are imported waiting for a person, each a task; with
    `dry_run` the file is only checked and what it would do reported (nothing written)."""
    catalogue = catalogue_for(ctx.settings.rules_dir)
    digest = file_hash(path)
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        previous = _previous(session, opportunity, digest)
        if previous is not None:
            return _already(opportunity.ref, previous, digest)
        check_allowed(ctx, opportunity, "quotes")
        sites = {
            s.site_id: s
            for s in session.exec(select(Site).where(Site.opportunity_id == opportunity.id)).all()
        }
        parsed = parse_quote_file(path, sites, catalogue, today=ctx.clock().date())
        delivery = load_delivery(ctx.settings.rules_dir)
        outliers = check_quotes(
            parsed,
            sites,
            opportunity,
            catalogue,
            today=ctx.clock().date(),
            file=str(path),
            sla_class=lambda site: delivery.sla_class_for(site.access, site.sla_class).name,
        )
    if dry_run:
        today = ctx.clock().date()
        return ImportResult(
            imported=len(parsed),
            firm=sum(1 for q in parsed if q.kind == QuoteKind.FIRM),
            budgetary=sum(1 for q in parsed if q.kind == QuoteKind.BUDGETARY),
            superseded=0,
            expired=tuple(q.site_id for q in parsed if q.valid_until < today),
            margin_before=None,
            margin_after=None,
            content_hash=digest,
            outliers=tuple(outliers),
            dry_run=True,
        )
    now = ctx.clock()
    with refusals_kept(ctx, ref, "quotes_import", actor), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, actor)
        previous = _previous(session, opportunity, digest)
        if previous is not None:  # another import of the same file won the race
            return _already(opportunity.ref, previous, digest)
        applied = apply_quotes(
            session,
            opportunity,
            parsed,
            catalogue=catalogue,
            today=now.date(),
            now=now,
            outliers={f.row or 0: f.message for f in outliers},
        )
        open_exception_tasks(session, ctx, opportunity, QUOTE_OUTLIER, outliers)
        session.add(
            QuoteImport(
                opportunity_id=opportunity.id or 0,
                file_name=path.name,
                content_hash=digest,
                rows=applied.imported,
                actor=actor,
                imported_at=now,
            )
        )
        session.flush()
        change = apply_change(
            session,
            ctx,
            opportunity,
            Change(
                kind="quotes",
                what=f"{applied.firm} firm and {applied.budgetary} budgetary quote(s) "
                f"from {path.name}",
                key=digest[:16],
                lines_changed=applied.imported,
                margin_before=applied.before.margin_pct,
                margin_after=applied.after.margin_pct,
            ),
            actor=actor,
        )
        deal = load_deal(session, ctx, opportunity)
        answered = answer_requests(session, ctx, opportunity, deal.quotes)
        check = exit_check(session, ctx, opportunity, deal)
        coverage = check.deal.coverage
        done = [
            milestone
            for milestone, complete in (
                (BUDGETARY_MILESTONE, coverage.quoted == coverage.sites),
                (FIRM_MILESTONE, coverage.outbound_firm == coverage.outbound),
            )
            if complete
        ]
        complete_milestones(session, ctx, opportunity, done)
        audit(
            session,
            ctx,
            opportunity,
            "quotes_imported",
            actor=actor,
            reason=f"{applied.imported} quote(s) from {path.name}",
            inputs={
                "file": path.name,
                "content_hash": digest,
                "firm": applied.firm,
                "budgetary": applied.budgetary,
                "superseded": applied.superseded,
                "margin_before_pct": applied.before.margin_pct,
                "margin_after_pct": applied.after.margin_pct,
                "change": change.to_json(),
                "outliers": len(outliers),
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
            content_hash=digest,
            change=change,
            answered=tuple(answered),
            outliers=tuple(outliers),
            open_criteria=tuple(c.text for c in check.open)
            if opportunity.state == State.BID_PRODUCTION
            else (),
        )
