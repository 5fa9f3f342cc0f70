"""Changes to accounts that a bid's result causes: sleeping accounts after a loss or no-bid."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session

from orchestrator.decisions.funnel_rules import load_funnel_config
from orchestrator.errors import NotFound
from orchestrator.store.models import Account


def put_to_sleep(session: Session, account_id: int, *, today: date, rules_dir: Path) -> date:
    """Mark an account sleeping after a loss or no-bid; returns the reminder date.

    Runs inside the caller's transaction (no commit), so the account sleeps if and only if
    the result is recorded. A later reminder date already set is kept.
    """
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}", field="account_id")
    due = today + timedelta(days=load_funnel_config(rules_dir).sleeping_reminder_days)
    if account.sleeping_until is None or account.sleeping_until < due:
        account.sleeping_until = due
        session.add(account)
    return account.sleeping_until
