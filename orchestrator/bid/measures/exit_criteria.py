"""Bid production's exit criteria, counted from the bid's deal, its quote requests and its
design freeze.

The criteria are rows of `rules/production_exit.yaml` (per account tier); each names a
measure counted here. `bid advance` keeps the bid in production while any is open and names
every open one with its counts; the `request_governance` transition's guard refuses while
any is open. Reading only: nothing here records (freezing the design is `bid.production`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.measures.deal import Deal, governance_decision_for, load_deal
from orchestrator.bid.measures.intake_tasks import exception_count, open_summary
from orchestrator.context import Context
from orchestrator.decisions.production_rules import ExitCriterion, load_exit_rules
from orchestrator.ports import Decision
from orchestrator.store.models import (
    DesignFreeze,
    Opportunity,
    Requirement,
    RequirementState,
)

DESIGN_MILESTONE = "design_freeze"


@dataclass(frozen=True)
class Count:
    """What a measure counted: `done` of `total`, and a detail for the message."""

    done: int
    total: int
    detail: str = ""


@dataclass(frozen=True)
class Criterion:
    """One exit criterion evaluated on a bid."""

    id: str
    measure: str
    holds: bool
    done: int
    total: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "measure": self.measure,
            "holds": self.holds,
            "done": self.done,
            "total": self.total,
            "text": self.text,
        }


@dataclass(frozen=True)
class ExitCheck:
    """Every exit criterion of the bid's tier, and the deal they were counted on."""

    criteria: tuple[Criterion, ...]
    deal: Deal
    rule_file: str
    rule_hash: str

    @property
    def open(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.holds)

    @property
    def summary(self) -> str:
        """The open criteria in one line: "firm quotes 1,009 of 2,309; 272 sites unsourced"."""
        return "; ".join(c.text for c in self.open)

    def decision(self, evaluated_at: datetime) -> Decision:
        """The check as a decision record (rule file and version, counts, the rows applied)."""
        return Decision(
            table="production_exit",
            rule_file=self.rule_file,
            rule_hash=self.rule_hash,
            inputs={c.measure: {"done": c.done, "total": c.total} for c in self.criteria},
            outputs={"open": [c.id for c in self.open], "holds": not self.open},
            matched_rows=[c.id for c in self.criteria],
            evaluated_at=evaluated_at,
        )


@dataclass(frozen=True)
class _View:
    """What the measures read."""

    ctx: Context
    session: Session
    opportunity: Opportunity
    deal: Deal


def _countries(pairs: tuple[tuple[str, int], ...], limit: int = 8) -> str:
    names = [country for country, _ in pairs]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _sites_sourced(view: _View) -> Count:
    coverage = view.deal.coverage
    return Count(coverage.sourced, coverage.sites, _countries(coverage.unsourced_countries))


def _qrfs_sent(view: _View) -> Count:
    coverage = view.deal.coverage
    return Count(coverage.requested, coverage.sourced)


def _quoted_sites(view: _View) -> Count:
    coverage = view.deal.coverage
    detail = f"; {coverage.expired:,} expired" if coverage.expired else ""
    return Count(coverage.quoted, coverage.sites, detail)


def _stale_quotes(view: _View) -> Count:
    """Sites whose quote priced an earlier spec, of all sites (must stay at none)."""
    coverage = view.deal.coverage
    return Count(coverage.stale, coverage.sites)


def _firm_quotes(view: _View) -> Count:
    coverage = view.deal.coverage
    return Count(coverage.outbound_firm, coverage.outbound)


def _budgetary_quotes(view: _View) -> Count:
    coverage = view.deal.coverage
    return Count(coverage.budgetary, coverage.quoted)


def _priced_lines(view: _View) -> Count:
    priced = view.deal.priced
    unpriced = priced.unpriced
    detail = ", ".join(line.label for line in unpriced[:5])
    if len(unpriced) > 5:
        detail += f" and {len(unpriced) - 5} more"
    return Count(len(priced.lines) - len(unpriced), len(priced.lines), detail)


def _design_frozen(view: _View) -> Count:
    opportunity = view.opportunity
    if opportunity.design_frozen:
        return Count(1, 1)
    last = latest_freeze(view.session, opportunity)
    detail = ""
    if last is not None and last.thaw_reason:
        detail = f" (version {last.version} reopened: {last.thaw_reason})"
    return Count(0, 1, detail)


def _reworked(view: _View) -> Count:
    opportunity = view.opportunity
    same = opportunity.rejected_fingerprint == view.deal.fingerprint
    return Count(0 if same else 1, 1, opportunity.rejection_note or "")


def _governance_verdict(view: _View) -> Count:
    decision = governance_decision_for(view.ctx, view.deal)
    refused = decision.outputs.get("verdict") == "refused"
    margin = view.deal.margin.margin_pct
    detail = str(decision.outputs.get("refusal") or "")
    if margin is not None:
        detail = f"margin {margin:.2f}%: {detail}"
    return Count(0 if refused else 1, 1, detail)


def _service_strategy(view: _View) -> Count:
    chosen = view.opportunity.service_strategy
    return Count(1 if chosen else 0, 1, chosen or "")


def _rfp_mandatory_answered(view: _View) -> Count:
    """Mandatory requirements answered (an answer and a compliance status), of all mandatory."""
    rows = view.session.exec(
        select(Requirement.req_id, Requirement.answer, Requirement.compliance)
        .where(Requirement.opportunity_id == view.opportunity.id)
        .where(Requirement.mandatory == True)  # noqa: E712
        .order_by(col(Requirement.position))
    ).all()
    open_ids = [req_id for req_id, answer, compliance in rows if not answer or compliance is None]
    detail = ", ".join(open_ids[:5]) + (
        f" and {len(open_ids) - 5} more" if len(open_ids) > 5 else ""
    )
    return Count(len(rows) - len(open_ids), len(rows), detail)


def _exceptions_resolved(view: _View) -> Count:
    """Intake exceptions resolved (bid design propose, bid quotes accept|requote), of all."""
    count = exception_count(view.session, view.opportunity)
    return Count(count.resolved, count.total, open_summary(count))


def _rfp_mandatory_reviewed(view: _View) -> Count:
    """Mandatory requirements whose answer a reviewer accepted, of all mandatory."""
    rows = view.session.exec(
        select(Requirement.req_id, Requirement.state)
        .where(Requirement.opportunity_id == view.opportunity.id)
        .where(Requirement.mandatory == True)  # noqa: E712
        .order_by(col(Requirement.position))
    ).all()
    open_ids = [req_id for req_id, state in rows if state != RequirementState.REVIEWED]
    detail = ", ".join(open_ids[:5]) + (
        f" and {len(open_ids) - 5} more" if len(open_ids) > 5 else ""
    )
    return Count(len(rows) - len(open_ids), len(rows), detail)


MEASURES: dict[str, Callable[[_View], Count]] = {
    "sites_sourced": _sites_sourced,
    "qrfs_sent": _qrfs_sent,
    "quoted_sites": _quoted_sites,
    "firm_quotes": _firm_quotes,
    "stale_quotes": _stale_quotes,
    "budgetary_quotes": _budgetary_quotes,
    "priced_lines": _priced_lines,
    "design_frozen": _design_frozen,
    "reworked": _reworked,
    "governance_verdict": _governance_verdict,
    "service_strategy": _service_strategy,
    "rfp_mandatory_answered": _rfp_mandatory_answered,
    "exceptions_resolved": _exceptions_resolved,
    "rfp_mandatory_reviewed": _rfp_mandatory_reviewed,
}
"""How each measure named in rules/production_exit.yaml is counted."""


def _evaluate(criterion: ExitCriterion, count: Count, ref: str) -> Criterion:
    holds = criterion.holds(count.done, count.total)
    values = {
        "id": criterion.id,
        "done": count.done,
        "total": count.total,
        "missing": count.total - count.done,
        "share": count.done / count.total if count.total else 0.0,
        "limit": criterion.limit,
        "detail": count.detail,
        "ref": ref,
    }
    return Criterion(
        criterion.id,
        criterion.measure,
        holds,
        count.done,
        count.total,
        (criterion.done_text if holds else criterion.open_text).format(**values),
    )


def exit_check(
    session: Session, ctx: Context, opportunity: Opportunity, deal: Deal | None = None
) -> ExitCheck:
    """Evaluate every exit criterion of the bid's tier (read-only)."""
    rules = load_exit_rules(ctx.settings.rules_dir)
    deal = deal or load_deal(session, ctx, opportunity)
    view = _View(ctx, session, opportunity, deal)
    criteria = tuple(
        _evaluate(criterion, MEASURES[criterion.measure](view), opportunity.ref)
        for criterion in rules.for_tier(deal.tier)
    )
    return ExitCheck(criteria, deal, rules.file, rules.sha256)


# --- the design freeze ----------------------------------------------------------------------


def latest_freeze(session: Session, opportunity: Opportunity) -> DesignFreeze | None:
    return session.exec(
        select(DesignFreeze)
        .where(DesignFreeze.opportunity_id == opportunity.id)
        .order_by(col(DesignFreeze.version).desc())
    ).first()
