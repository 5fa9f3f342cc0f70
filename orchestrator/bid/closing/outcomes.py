"""The customer's decision as it happens, and withdrawals.

`bid result`: shortlisted (the bid waits on), a best-and-final offer asked (back to bid
production for a revised price; governance judges it against the offer the customer holds;
then it is submitted again), won (contract preparation), lost (with the competitor and the
price gap, the account goes to sleep). `bid withdraw`: the bid closes what it opened; a
customer who postponed makes a sleeping account that wakes on the date given.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from orchestrator.bid.customers.accounts import check_competitor, learn_competitor, put_to_sleep
from orchestrator.bid.facts import StepResult, account_of, get_opportunity, get_person, holds_role
from orchestrator.bid.measures.deal import load_deal
from orchestrator.bid.opportunity.edits import reopen_milestones, replan
from orchestrator.bid.opportunity.onboarding import LEAD_ROLE_BY_TIER
from orchestrator.bid.producing.sourcing import cancel_requests
from orchestrator.bid.team.people import check_actor, is_admin, is_system_actor
from orchestrator.bid.trail.recording import (
    carry_on,
    check_category,
    move_bid,
    put_account_to_sleep,
    refusals_kept,
)
from orchestrator.context import Context
from orchestrator.errors import InputError, NotPermitted
from orchestrator.intake.limits import free_text, optional_free_text
from orchestrator.intake.opportunity import MAX_TEXT, MAX_YEARS_AHEAD
from orchestrator.store.db import transaction
from orchestrator.store.models import Account, Opportunity, Role
from orchestrator.text import has_control_characters

POSTPONED = "postponed"
BAFO_MILESTONES = ("design_freeze", "governance_approvals", "submission")
"""Bid Control Plan milestones a best-and-final offer goes through again."""
MAX_PRICE_GAP_PCT = 1000.0


def _moved(opportunity: Opportunity, source: Any, message: str) -> StepResult:
    return StepResult(opportunity.ref, source, opportunity.state, message)


def _future(ctx: Context, day: date, option: str) -> date:
    today = ctx.clock().date()
    if day <= today:
        raise InputError(
            f"{day.isoformat()} is not after today ({today.isoformat()})", field=option
        )
    if day > today + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise InputError(
            f"{day.isoformat()} is more than {MAX_YEARS_AHEAD} years ahead", field=option
        )
    return day


def _text(value: str | None, option: str) -> str | None:
    if value is None or not value.strip():
        return None
    text = " ".join(value.split())
    if has_control_characters(text) or len(text) > MAX_TEXT:
        raise InputError(
            f"must be at most {MAX_TEXT} characters, without control characters", field=option
        )
    return text


def record_result(
    ctx: Context,
    ref: str,
    *,
    won: bool,
    reason: str,
    by: str = "system",
    category: str | None = None,
    competitor: str | None = None,
    price_gap_pct: float | None = None,
    competitor_contract_end: date | None = None,
) -> StepResult:
    reason = free_text(reason, "reason", required=False, newlines=True)
    """The customer's verdict: won goes to contract preparation; lost needs a category and
    may name who won instead and how far our price was above theirs. With the competitor's
    contract end, the account sleeps until it is time to bid again
    (`bid.accounts.learn_competitor`), in the same transaction."""
    trigger = "win" if won else "lose"
    if won and (competitor or price_gap_pct is not None or competitor_contract_end):
        raise InputError("--competitor and --price-gap go with --lost", field="result")
    if competitor_contract_end is not None and not (competitor or "").strip():
        raise InputError(
            "--competitor-contract-end needs --competitor: give them together", field="competitor"
        )
    if price_gap_pct is not None and not -100 < price_gap_pct <= MAX_PRICE_GAP_PCT:
        raise InputError(
            f"must be a percentage above -100 and at most {MAX_PRICE_GAP_PCT:g}",
            field="price_gap",
        )
    competitor = _text(competitor, "competitor")
    learned = (
        check_competitor(ctx, competitor, competitor_contract_end)
        if competitor and competitor_contract_end
        else None
    )
    with refusals_kept(ctx, ref, trigger, by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        if not won or category:
            category = check_category(ctx, category, needed_for="a lost bid (--category)")
        opportunity.result_reason, opportunity.result_category = reason, category
        if not won:
            opportunity.competitor, opportunity.price_gap_pct = competitor, price_gap_pct
        source = opportunity.state
        move_bid(
            session,
            ctx,
            opportunity,
            trigger,
            actor=by,
            reason=reason,
            inputs={
                "category": category,
                "competitor": competitor,
                "price_gap_pct": price_gap_pct,
                "offer_round": opportunity.offer_round,
            },
        )
        if won:  # contract preparation's work can start
            carry_on(session, ctx, opportunity, actor=by, cause="won")
        else:
            put_account_to_sleep(session, ctx, opportunity)
        if learned is not None and competitor_contract_end is not None:
            account = session.get(Account, opportunity.account_id)
            if account is not None:
                learn_competitor(
                    session,
                    ctx,
                    account,
                    competitor=learned[0],
                    contract_end=competitor_contract_end,
                    wakes_on=learned[1],
                    actor=by,
                    reason=f"learned when {opportunity.ref} was lost",
                )
        return _moved(opportunity, source, "recorded")


def shortlist(ctx: Context, ref: str, *, by: str, reason: str | None = None) -> StepResult:
    """The customer shortlisted the bid: kept on the trail, the bid still waits for them."""
    reason = optional_free_text(reason, "reason", newlines=True)
    with refusals_kept(ctx, ref, "shortlist", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        source = opportunity.state
        move_bid(session, ctx, opportunity, "shortlist", actor=by, reason=reason)
        opportunity.shortlisted = True
        session.add(opportunity)
        return _moved(opportunity, source, "shortlisted; waiting for the customer's verdict")


def _offer_held(session: Session, ctx: Context, opportunity: Opportunity) -> dict[str, Any]:
    deal = load_deal(session, ctx, opportunity)
    return {
        "round": opportunity.offer_round,
        "proposal_hash": opportunity.proposal_hash,
        "currency": deal.currency,
        "contract_value_eur": round(deal.priced.contract_value_eur, 2),
        "monthly_eur": round(deal.priced.monthly_eur, 2),
        "one_off_eur": round(deal.priced.one_off_eur, 2),
        "margin_pct": deal.margin.margin_pct,
        "fingerprint": deal.fingerprint,
    }


def request_bafo(
    ctx: Context, ref: str, *, reason: str, by: str, deadline: date | None = None
) -> StepResult:
    """The customer asks for a best-and-final offer: back to bid production for a revised
    price (the offer as it stands cannot go to governance again), a new offer round, the plan
    of the rework (design freeze, approvals, submission) opened again on the new deadline."""
    reason = free_text(reason, "reason", required=False, newlines=True)
    if deadline is not None:
        deadline = _future(ctx, deadline, "deadline")
    with refusals_kept(ctx, ref, "request_bafo", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        source = opportunity.state
        held = _offer_held(session, ctx, opportunity)
        move_bid(
            session,
            ctx,
            opportunity,
            "request_bafo",
            actor=by,
            reason=reason,
            inputs={
                "offer_round": opportunity.offer_round + 1,
                "offered": held,
                "deadline": deadline.isoformat() if deadline else None,
            },
        )
        opportunity.offered = held
        opportunity.offer_round += 1
        opportunity.shortlisted = False
        opportunity.rejected_fingerprint = held["fingerprint"]
        opportunity.rejection_note = (
            f"of offer round {held['round']} by the customer (best and final offer asked: "
            f"{' '.join(reason.split())[:120]})"
        )
        if deadline is not None:
            opportunity.submission_deadline = deadline
        session.add(opportunity)
        reopen_milestones(session, ctx, opportunity, BAFO_MILESTONES)
        replan(session, ctx, opportunity)
        carry_on(session, ctx, opportunity, actor=by, cause="bafo")
        return _moved(
            opportunity,
            source,
            f"best and final offer (round {opportunity.offer_round}): back to bid production "
            "for a revised price",
        )


WITHDRAW_ROLES = (Role.BID_MANAGER, Role.ACCOUNT_MANAGER, Role.MANAGEMENT)
"""Team roles that may withdraw a bid; the bid's lead (by the account's tier), the account's
owner and admins may too. A finance or legal reviewer may not end a bid."""


def check_may_withdraw(session: Session, opportunity: Opportunity, actor: str) -> None:
    """Refuse a withdrawal by anyone but the bid manager, the bid's lead, the account's owner,
    management or an admin (the process's own automation may)."""
    if is_system_actor(actor):
        return
    person = get_person(session, actor)
    account = account_of(session, opportunity)
    lead = LEAD_ROLE_BY_TIER.get(str(account.tier))
    roles: list[str] = [*WITHDRAW_ROLES, *([lead] if lead else [])]
    if is_admin(person) or holds_role(session, opportunity, person, roles):
        return
    if account.owner_id is not None and account.owner_id == person.id:
        return
    raise NotPermitted(
        f"{person.email} may not withdraw {opportunity.ref}: the bid manager, the account's "
        "owner, management or an admin may"
    )


def withdraw(
    ctx: Context,
    ref: str,
    *,
    reason: str,
    by: str = "system",
    category: str | None = None,
    wake_up: date | None = None,
) -> StepResult:
    """Withdraw a bid from any open step; it closes what it opened (approvals still requested
    are cancelled and their approvers told, milestones and tasks closed, open quote requests
    cancelled with a message to each carrier). A customer who
    postponed (`postponed`) makes a sleeping account that wakes on `wake_up`."""
    reason = free_text(reason, "reason", required=False, newlines=True)
    if wake_up is not None:
        wake_up = _future(ctx, wake_up, "wake_up")
    with refusals_kept(ctx, ref, "withdraw", by), transaction(ctx.engine) as session:
        opportunity = get_opportunity(session, ref, lock=True)
        check_actor(session, opportunity, by)
        check_may_withdraw(session, opportunity, by)
        category = check_category(ctx, category, needed_for="a withdrawal (--category)")
        if category == POSTPONED and wake_up is None:
            raise InputError(
                "a postponed bid needs the day its account wakes up (--wake-up DATE)",
                field="wake_up",
            )
        opportunity.result_reason, opportunity.result_category = reason, category
        source = opportunity.state
        move_bid(
            session,
            ctx,
            opportunity,
            "withdraw",
            actor=by,
            reason=reason,
            inputs={"category": category, "wake_up": wake_up.isoformat() if wake_up else None},
        )
        cancelled = cancel_requests(
            session, ctx, opportunity, f"the bid is withdrawn: {reason or category}"
        )
        message = "withdrawn"
        if cancelled:
            message += f"; {len(cancelled)} quote request(s) cancelled, each carrier told"
        if wake_up is not None:
            put_to_sleep(
                session,
                opportunity.account_id,
                today=ctx.clock().date(),
                rules_dir=ctx.settings.rules_dir,
                until=wake_up,
            )
            message += f"; the account sleeps until {wake_up.isoformat()}"
        return _moved(opportunity, source, message)
