"""Changes to accounts that a bid's result causes: sleeping accounts after a loss or no-bid
(or a withdrawal the customer postponed), and the reminder when one wakes up."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import load_funnel_config
from orchestrator.errors import NotFound
from orchestrator.lifecycle.table import ENDS
from orchestrator.store import outbox
from orchestrator.store.models import Account, Opportunity, Person


def put_to_sleep(
    session: Session, account_id: int, *, today: date, rules_dir: Path, until: date | None = None
) -> date:
    """Mark an account sleeping after a loss or no-bid (or a withdrawal the customer
    postponed, `until` the day it wakes up); returns the reminder date.

    Runs inside the caller's transaction (no commit), so the account sleeps if and only if
    the result is recorded. A later reminder date already set is kept, except that a date the
    customer named (`until`) replaces it.
    """
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="account_id")
    if until is not None:
        account.sleeping_until = until
        session.add(account)
        return until
    due = today + timedelta(days=load_funnel_config(rules_dir).sleeping_reminder_days)
    if account.sleeping_until is None or account.sleeping_until < due:
        account.sleeping_until = due
        session.add(account)
    return account.sleeping_until


def wake_up_reminders(session: Session, ctx: Context) -> list[tuple[str, str]]:
    """Sleeping accounts whose day has come (and no open bid): their last bid's owner hears it
    once per wake-up date. Returns (account, recipient) for each reminder queued."""
    today = ctx.clock().date()
    queued: list[tuple[str, str]] = []
    for account in session.exec(
        select(Account).where(
            col(Account.sleeping_until).is_not(None), col(Account.sleeping_until) <= today
        )
    ).all():
        bids = session.exec(
            select(Opportunity)
            .where(Opportunity.account_id == account.id)
            .order_by(col(Opportunity.id).desc())
        ).all()
        if not bids or any(bid.state not in ENDS for bid in bids):
            continue
        last = bids[0]
        owner = session.get(Person, last.owner_id) if last.owner_id else None
        text = ctx.messages.render(
            "account_wakes",
            account=account.name,
            ref=last.ref,
            title=last.title,
            state=last.state.value,
            category=last.result_category or "",
            reason=last.result_reason or "",
            sleeping_until=(account.sleeping_until or today).isoformat(),
        )
        if outbox.enqueue(
            session,
            key=f"wake:{account.id}:{account.sleeping_until}",
            event="account_wakes",
            text=text,
            opportunity_id=last.id,
            recipient_email=owner.email if owner else None,
        ):
            queued.append((account.name, owner.email if owner else "(nobody)"))
    return queued
