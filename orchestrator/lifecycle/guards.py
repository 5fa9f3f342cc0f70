"""Named guards of the lifecycle. Each returns a `GuardResult` carrying the reason it refused.

Guards read a `BidFacts` snapshot that the service layer loads from the database before a
transition; they never touch the database themselves, so they are plain, testable functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from orchestrator.store.models import Role, Tier

BANTS_FIELDS = ("budget_eur", "authority", "need", "timeframe_months", "sales_ready")


@dataclass(frozen=True)
class GuardResult:
    ok: bool
    reason: str = ""


OK = GuardResult(True)


def refuse(reason: str) -> GuardResult:
    return GuardResult(False, reason)


@dataclass(frozen=True)
class BidFacts:
    """What the guards may know about a bid, loaded in one go by the service layer."""

    tier: str
    bants: dict[str, object]
    submission_deadline: date
    today: date
    team_roles: frozenset[str] = frozenset()
    reason: str | None = None
    strategy_reworked: bool = False
    milestone_count: int = 0
    proposal_hash: str | None = None
    required_areas: tuple[str, ...] = ()
    granted_areas: frozenset[str] = field(default_factory=frozenset)
    submission_package_ready: bool = False
    order_sheet_ready: bool = False
    order_sheet_problems: tuple[str, ...] = ()
    production_open: tuple[str, ...] = ()
    """Bid production's exit criteria that do not hold yet (rules/production_exit.yaml)."""
    shortlisted: bool = False


def bants_complete(facts: BidFacts) -> GuardResult:
    missing = [name for name in BANTS_FIELDS if facts.bants.get(name) is None]
    if missing:
        return refuse(f"qualification needs the BANTS facts; missing: {', '.join(missing)}")
    return OK


def deadline_not_passed(facts: BidFacts) -> GuardResult:
    if facts.submission_deadline < facts.today:
        return refuse(f"the submission deadline {facts.submission_deadline.isoformat()} has passed")
    return OK


def reason_given(facts: BidFacts) -> GuardResult:
    if not (facts.reason and facts.reason.strip()):
        return refuse("a reason is required")
    return OK


def strategy_reworked(facts: BidFacts) -> GuardResult:
    if not facts.strategy_reworked:
        return refuse("the strategy has not been reworked since 'redefine strategy' (bid strategy)")
    return OK


def _with_article(role: Role) -> str:
    name = role.value.replace("_", " ")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


TEAM_NEEDED: dict[str, tuple[Role, ...]] = {
    Tier.TOP.value: (Role.BID_MANAGER, Role.SOLUTION_CONSULTANT),
    Tier.MAJOR.value: (Role.ACCOUNT_MANAGER,),
    Tier.MIDDLE_MARKET.value: (Role.ACCOUNT_MANAGER,),
    Tier.DIRECT.value: (Role.SALES_SUPPORT,),
    Tier.INSTALLED_BASE.value: (),
}
"""Who must be on the team before kick-off, per tier (the lead of each tier's process)."""


def bid_team_assigned(facts: BidFacts) -> GuardResult:
    """Top accounts need a bid manager and a solution consultant; major and middle-market
    ones an account manager; the direct channel a sales support person who leads it."""
    needed = TEAM_NEEDED.get(str(facts.tier), ())
    missing = [_with_article(role) for role in needed if role not in facts.team_roles]
    if missing:
        return refuse(f"kick-off needs {' and '.join(missing)} assigned for {facts.tier} accounts")
    return OK


def control_plan_made(facts: BidFacts) -> GuardResult:
    if facts.milestone_count == 0:
        return refuse("kick-off needs a Bid Control Plan (no milestones planned)")
    return OK


def production_done(facts: BidFacts) -> GuardResult:
    if facts.production_open:
        return refuse("bid production is not done: " + "; ".join(facts.production_open))
    return OK


def proposal_ready(facts: BidFacts) -> GuardResult:
    if not facts.proposal_hash:
        return refuse("bid production has not produced a proposal yet")
    return OK


def approvals_complete(facts: BidFacts) -> GuardResult:
    missing = [area for area in facts.required_areas if area not in facts.granted_areas]
    if not facts.required_areas:
        return refuse("no governance approvals have been requested")
    if missing:
        return refuse(
            "submission needs every governance approval on the current proposal; "
            f"missing: {', '.join(missing)}"
        )
    return OK


def submission_package_ready(facts: BidFacts) -> GuardResult:
    if not facts.submission_package_ready:
        return refuse("the submission package has not been assembled")
    return OK


def order_sheet_ready(facts: BidFacts) -> GuardResult:
    if facts.order_sheet_problems:
        return refuse("the order sheet has invalid lines: " + "; ".join(facts.order_sheet_problems))
    if not facts.order_sheet_ready:
        return refuse("the clean order sheet has not been produced")
    return OK


def not_yet_shortlisted(facts: BidFacts) -> GuardResult:
    if facts.shortlisted:
        return refuse("the bid is already shortlisted")
    return OK


def changes_approved(facts: BidFacts) -> GuardResult:
    """After a win, a price-changing edit asked finance again: signing waits for it."""
    waiting = [area for area in facts.required_areas if area not in facts.granted_areas]
    if waiting:
        return refuse(
            "signing waits for the approval of the changes made after the win: "
            f"{', '.join(waiting)} (bid approve)"
        )
    return OK


Guard = Callable[[BidFacts], GuardResult]

GUARDS: dict[str, Guard] = {
    guard.__name__: guard
    for guard in (
        bants_complete,
        deadline_not_passed,
        reason_given,
        strategy_reworked,
        bid_team_assigned,
        control_plan_made,
        production_done,
        proposal_ready,
        approvals_complete,
        submission_package_ready,
        order_sheet_ready,
        not_yet_shortlisted,
        changes_approved,
    )
}
