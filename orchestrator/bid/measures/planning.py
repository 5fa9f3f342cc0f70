"""Bid Control Plan: milestones planned in working days, and kept true to the work.

`rules/milestones.yaml` says which milestones exist, when each is planned (at intake, at
kick-off, at the governance request, when a quote request is recorded, when the customer's
questionnaire is imported), how far from its anchor it falls, and — `done_when` — which
piece of work closes it. Offsets are working days of the bid team's country
(rules/delivery.yaml `calendar.home_country`): no milestone falls on a weekend or a public
holiday; a deadline on one moves to the working day before it.

`sync_milestones` runs before every commit that changed a bid (bid/trail/recording.py): a
milestone whose work is done is closed, one whose work came undone is opened again — a
granted approval invalidated reopens its sign-off, due again from the new request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlmodel import Session, col, select

from orchestrator.commercial.calendar import add_working_days, is_working_day, on_or_after
from orchestrator.decisions.rule_files import file_stamp
from orchestrator.errors import RuleLoadError
from orchestrator.lifecycle.table import ENDS, State
from orchestrator.store.models import (
    Approval,
    ApprovalStatus,
    Milestone,
    MilestoneStatus,
    Opportunity,
    QuoteRequest,
    Requirement,
)

if TYPE_CHECKING:
    from orchestrator.context import Context

PLANNED_AT = (
    "intake",
    "kick_off",
    "governance_request",
    "quote_request",
    "rfp_import",
    "submission",
)
ANCHORS = ("rfp_received", "governance_requested", "reply_by", "submitted")
END_OF_DAY = time(17, 0)


@dataclass(frozen=True)
class MilestoneRule:
    name: str
    planned_at: str
    owner_role: str
    offset_days: int | None = None
    after_hours: int | None = None
    anchor: str | None = None
    done_when: str | None = None


@dataclass(frozen=True)
class PlannedMilestone:
    name: str
    due_at: datetime
    owner_role: str


@dataclass(frozen=True)
class WarningPolicy:
    due_soon_days: int
    management_after_overdue_days: int


def load_milestone_rules(rules_dir: Path) -> tuple[tuple[MilestoneRule, ...], WarningPolicy]:
    """`milestones.yaml`, validated; read again only when the file changes (every move
    syncs the bid's milestones, so it is asked for several times a move)."""
    path = (rules_dir / "milestones.yaml").resolve()
    return _milestone_rules(path, file_stamp(path))


@lru_cache(maxsize=8)
def _milestone_rules(
    path: Path, _stamp: tuple[int, int]
) -> tuple[tuple[MilestoneRule, ...], WarningPolicy]:
    """Read and validate `milestones.yaml`; a mistake names the file and the field."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleLoadError(f"{path}: cannot read milestones: {exc}".splitlines()[0]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("milestones"), list):
        raise RuleLoadError(f"{path}: 'milestones' must be a list")
    rules = []
    for index, item in enumerate(data["milestones"], start=1):
        where = f"{path}: milestone {index}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RuleLoadError(f"{where}: field 'name' is required")
        if item.get("planned_at") not in PLANNED_AT:
            raise RuleLoadError(f"{where}: field 'planned_at' must be one of {PLANNED_AT}")
        if not isinstance(item.get("owner_role"), str):
            raise RuleLoadError(f"{where}: field 'owner_role' is required")
        offset, after, anchor = item.get("offset_days"), item.get("after_hours"), item.get("from")
        if (offset is None) == (after is None):
            raise RuleLoadError(f"{where}: give exactly one of 'offset_days' or 'after_hours'")
        if after is not None and anchor not in ANCHORS:
            raise RuleLoadError(f"{where}: field 'from' must be one of {ANCHORS}")
        for key, value in (("offset_days", offset), ("after_hours", after)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise RuleLoadError(f"{where}: field '{key}' must be a whole number")
        done_when = item.get("done_when")
        if done_when is not None and done_when not in DONE_WHEN:
            raise RuleLoadError(
                f"{where}: field 'done_when' must be one of {', '.join(sorted(DONE_WHEN))}"
            )
        rules.append(
            MilestoneRule(
                item["name"],
                item["planned_at"],
                item["owner_role"],
                offset,
                after,
                anchor,
                done_when,
            )
        )
    warnings = data.get("warnings") or {}
    levels = {lvl.get("level"): lvl for lvl in warnings.get("levels", []) if isinstance(lvl, dict)}
    policy = WarningPolicy(
        due_soon_days=int(warnings.get("due_soon_days", 2)),
        management_after_overdue_days=int(levels.get("management", {}).get("days", 2)),
    )
    return tuple(rules), policy


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=UTC)


def after_working_hours(anchor: datetime, hours: int, country: str) -> datetime:
    """`hours` after `anchor`, whole days counted as working days of `country` (24 hours
    after a Friday's RFP is Monday); the result never falls on a non-working day."""
    days, rest = divmod(hours, 24)
    moment = anchor
    if days:
        day = add_working_days(anchor.date(), days, country)
        moment = datetime.combine(day, anchor.timetz())
    moment += timedelta(hours=rest)
    if not is_working_day(moment.date(), country):
        moment = datetime.combine(on_or_after(moment.date(), country), moment.timetz())
    return moment


def plan(
    rules: Sequence[MilestoneRule],
    planned_at: str,
    *,
    submission_deadline: date,
    anchor_time: datetime,
    areas: tuple[tuple[str, str], ...] = (),
    country: str = "BE",
) -> list[PlannedMilestone]:
    """The milestones planned at `planned_at`, with due dates in working days of `country`.

    Back-planned milestones are due at 17:00 UTC on their working day; the governance
    sign-off gives one milestone per required (area, owner role).
    """
    planned: list[PlannedMilestone] = []
    for rule in rules:
        if rule.planned_at != planned_at:
            continue
        if rule.after_hours is not None:
            due = after_working_hours(anchor_time, rule.after_hours, country)
        else:
            day = add_working_days(submission_deadline, rule.offset_days or 0, country)
            due = _end_of_day(day)
        if rule.owner_role == "per_area":
            planned.extend(
                PlannedMilestone(f"{rule.name}_{area}", due, role) for area, role in areas
            )
        else:
            planned.append(PlannedMilestone(rule.name, due, rule.owner_role))
    return planned


def home_country(ctx: Context) -> str:
    from orchestrator.decisions.offer_rules import load_delivery

    return load_delivery(ctx.settings.rules_dir).home_country


# --- milestones kept true to the work ---------------------------------------------------------


BEFORE_PRODUCTION = frozenset(
    {State.PRE_QUALIFICATION, State.QUALIFICATION, State.STRATEGY_REWORK, State.KICK_OFF}
)
IN_PRODUCTION = BEFORE_PRODUCTION | {State.BID_PRODUCTION}
BEFORE_SUBMITTED = IN_PRODUCTION | {State.GOVERNANCE_REVIEW, State.SUBMISSION}


@dataclass
class _Facts:
    """What the done-checks read, loaded once per sync and only when needed."""

    session: Session
    ctx: Context
    opportunity: Opportunity
    _deal: Any = None

    @property
    def deal(self) -> Any:
        if self._deal is None:
            from orchestrator.bid.measures.deal import load_deal

            self._deal = load_deal(self.session, self.ctx, self.opportunity)
        return self._deal

    _approvals: dict[str, Approval] | None = None
    _requests: dict[str, QuoteRequest] | None = None

    @property
    def approvals(self) -> dict[str, Approval]:
        """The newest approval of each area in the current round (one query per sync)."""
        if self._approvals is None:
            rows = self.session.exec(
                select(Approval)
                .where(
                    Approval.opportunity_id == self.opportunity.id,
                    Approval.round == self.opportunity.governance_round,
                )
                .order_by(col(Approval.id))
            ).all()
            self._approvals = {str(row.area): row for row in rows}  # the newest wins
        return self._approvals

    @property
    def requests(self) -> dict[str, QuoteRequest]:
        """The newest current quote request of each name (one query per sync)."""
        if self._requests is None:
            rows = self.session.exec(
                select(QuoteRequest)
                .where(
                    QuoteRequest.opportunity_id == self.opportunity.id,
                    QuoteRequest.superseded == False,  # noqa: E712
                )
                .order_by(col(QuoteRequest.id))
            ).all()
            self._requests = {row.name: row for row in rows}
        return self._requests


def _decided(facts: _Facts, _: str) -> bool:
    return facts.opportunity.state not in {
        State.PRE_QUALIFICATION,
        State.QUALIFICATION,
        State.STRATEGY_REWORK,
    }


def _quoted_sites(facts: _Facts, _: str) -> bool:
    if facts.opportunity.state not in IN_PRODUCTION:
        return True
    coverage = facts.deal.coverage
    return bool(coverage.sites) and coverage.quoted >= coverage.sourced and not coverage.unsourced


def _firm_quotes(facts: _Facts, _: str) -> bool:
    if facts.opportunity.state not in IN_PRODUCTION:
        return True
    coverage = facts.deal.coverage
    return bool(coverage.sites) and coverage.outbound_firm >= coverage.outbound


def _design_frozen(facts: _Facts, _: str) -> bool:
    return facts.opportunity.design_frozen or facts.opportunity.state not in IN_PRODUCTION


def _approved(facts: _Facts, _: str) -> bool:
    return facts.opportunity.state not in IN_PRODUCTION | {State.GOVERNANCE_REVIEW}


def _submitted(facts: _Facts, _: str) -> bool:
    return facts.opportunity.state not in BEFORE_SUBMITTED


def _customer_decided(facts: _Facts, _: str) -> bool:
    """customer_decision: the customer gave a verdict (or asked a best-and-final offer)."""
    return facts.opportunity.state != State.CUSTOMER_DECISION


def _approval_granted(facts: _Facts, name: str) -> bool:
    """governance_signoff_<area>: the area's approval of the current round is granted."""
    if facts.opportunity.state not in IN_PRODUCTION | {State.GOVERNANCE_REVIEW}:
        return True
    area = name.rsplit("_", 1)[-1]
    latest = facts.approvals.get(area)
    return latest is not None and latest.status == ApprovalStatus.GRANTED


def _rfp_answered(facts: _Facts, _: str) -> bool:
    rows = facts.session.exec(
        select(Requirement.answer, Requirement.compliance).where(
            Requirement.opportunity_id == facts.opportunity.id
        )
    ).all()
    return bool(rows) and all(answer and compliance is not None for answer, compliance in rows)


def _quote_answered(facts: _Facts, name: str) -> bool:
    """quote_reply_<request>: the current request of that name is answered."""
    row = facts.requests.get(name.removeprefix("quote_reply_"))
    return (
        row is None or row.answered_at is not None or facts.opportunity.state not in IN_PRODUCTION
    )


DONE_WHEN: dict[str, Callable[[_Facts, str], bool]] = {
    "decided": _decided,
    "quoted_sites": _quoted_sites,
    "firm_quotes": _firm_quotes,
    "design_frozen": _design_frozen,
    "approved": _approved,
    "submitted": _submitted,
    "customer_decided": _customer_decided,
    "approval_granted": _approval_granted,
    "rfp_answered": _rfp_answered,
    "quote_answered": _quote_answered,
}
"""The work that closes a milestone (rules/milestones.yaml `done_when`), per check."""


def _rule_for(rules: Sequence[MilestoneRule], name: str) -> MilestoneRule | None:
    for rule in rules:
        if name == rule.name or name.startswith(f"{rule.name}_"):
            return rule
    return None


def _due_again(facts: _Facts, rule: MilestoneRule, milestone: Milestone) -> datetime:
    """A reopened sign-off is due again from its new request."""
    if rule.anchor != "governance_requested" or rule.after_hours is None:
        return milestone.due_at
    area = milestone.name.rsplit("_", 1)[-1]
    latest = facts.session.exec(
        select(Approval)
        .where(Approval.opportunity_id == facts.opportunity.id, Approval.area == area)
        .order_by(col(Approval.id).desc())
    ).first()
    if latest is None:
        return milestone.due_at
    requested = latest.requested_at
    if requested.tzinfo is None:
        requested = requested.replace(tzinfo=UTC)
    return after_working_hours(requested, rule.after_hours, home_country(facts.ctx))


def sync_milestones(session: Session, ctx: Context, opportunity: Opportunity) -> list[str]:
    """Close the milestones whose work is done, reopen those whose work came undone (in the
    caller's transaction). Closed bids are left as they are. Returns what changed."""
    if opportunity.state in ENDS:
        return []
    rules, _ = load_milestone_rules(ctx.settings.rules_dir)
    facts = _Facts(session, ctx, opportunity)
    changed: list[str] = []
    milestones = session.exec(
        select(Milestone).where(
            Milestone.opportunity_id == opportunity.id,
            col(Milestone.status).in_([MilestoneStatus.OPEN, MilestoneStatus.DONE]),
        )
    ).all()
    for milestone in milestones:
        rule = _rule_for(rules, milestone.name)
        if rule is None or rule.done_when is None:
            continue
        done = DONE_WHEN[rule.done_when](facts, milestone.name)
        if done and milestone.status == MilestoneStatus.OPEN:
            milestone.status, milestone.completed_at = MilestoneStatus.DONE, ctx.clock()
            changed.append(f"{milestone.name} done")
        elif not done and milestone.status == MilestoneStatus.DONE:
            milestone.status, milestone.completed_at = MilestoneStatus.OPEN, None
            milestone.due_at = _due_again(facts, rule, milestone)
            changed.append(f"{milestone.name} reopened")
        else:
            continue
        session.add(milestone)
    return changed
