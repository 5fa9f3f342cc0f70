"""Changes to accounts, each on the account's own trail (`AccountEvent`, built here only).

An account's tier changes only on purpose: `set_tier` by an admin or management, an
accepted portfolio suggestion, or an import by them — each with its reason. A new bid
never changes an existing account. Sleeping accounts (after a loss, a no-bid, or when a
competitor's contract end is known) wake at their date, once, with a message to the owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.bid.team.people import is_admin, is_system_actor, record_person_created
from orchestrator.context import Context
from orchestrator.decisions.funnel_rules import load_funnel_config
from orchestrator.decisions.portfolio_rules import load_portfolio_rules
from orchestrator.errors import InputError, InputErrors, NotFound, NotPermitted
from orchestrator.intake.accounts import AccountRow
from orchestrator.intake.limits import date_within, free_text
from orchestrator.lifecycle.table import ENDS
from orchestrator.store import outbox
from orchestrator.store.db import transaction
from orchestrator.store.models import (
    Account,
    AccountEvent,
    Grant,
    Opportunity,
    Person,
    PortfolioSuggestion,
    Role,
    SuggestionStatus,
    TeamMember,
    Tier,
)
from orchestrator.text import fold_name

MAX_REASON = 1_000


# --- the account trail -------------------------------------------------------------------------


def record_account_event(
    session: Session,
    ctx: Context,
    account: Account,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    from_tier: str | None = None,
    to_tier: str | None = None,
    details: dict[str, Any] | None = None,
    key: str | None = None,
) -> AccountEvent:
    """One event on the account's trail, in the caller's transaction."""
    event = AccountEvent(
        account_id=account.id or 0,
        at=ctx.clock(),
        actor=actor,
        action=action,
        from_tier=from_tier,
        to_tier=to_tier,
        reason=reason,
        details=details or {},
        key=key,
    )
    session.add(event)
    return event


def record_account_created(
    session: Session, ctx: Context, account: Account, actor: str, source: str
) -> None:
    """A new account (from an opportunity or an import) enters the trail with its tier."""
    record_account_event(
        session,
        ctx,
        account,
        "created",
        actor=actor,
        to_tier=account.tier,
        details={"from": source},
    )


# --- lookups and who may -------------------------------------------------------------------------


def find_account(session: Session, name: str) -> Account | None:
    """The account of this name, whatever its case or accents."""
    return session.exec(select(Account).where(Account.name_key == fold_name(name))).first()


def get_account(session: Session, name: str) -> Account:
    account = find_account(session, name)
    if account is None:
        raise NotFound(f"no account '{name}' (bid account list)", field="account")
    return account


def _person(session: Session, actor: str) -> Person:
    person = session.exec(select(Person).where(Person.email == actor.strip().lower())).first()
    if person is None:
        raise NotPermitted(f"{actor} is nobody known here; changes need a person")
    return person


def require_portfolio_manager(session: Session, actor: str, what: str) -> None:
    """Tiers and imports are management's call: an admin or a management grant."""
    if is_system_actor(actor):
        return
    person = _person(session, actor)
    if not (is_admin(person) or Grant.MANAGEMENT in person.roles):
        raise NotPermitted(
            f"{person.email} may not {what}: only management or an admin "
            "(bid people grant EMAIL --role management)"
        )


def may_edit_account(session: Session, account: Account, actor: str) -> None:
    """What a team learns about its account (a competitor's contract): management, an
    admin, the account's owner, or anyone on one of its bids' teams."""
    if is_system_actor(actor):
        return
    person = _person(session, actor)
    if is_admin(person) or Grant.MANAGEMENT in person.roles or account.owner_id == person.id:
        return
    on_team = session.exec(
        select(TeamMember.id)
        .where(TeamMember.person_id == person.id)
        .where(TeamMember.opportunity_id == Opportunity.id)
        .where(Opportunity.account_id == account.id)
    ).first()
    if on_team is None:
        raise NotPermitted(
            f"{person.email} holds no role on {account.name}: its owner, its bid teams, "
            "management or an admin may change it"
        )


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InputError("a reason is required", field="reason")
    text = free_text(text, "reason", newlines=True)
    if len(text) > MAX_REASON:
        raise InputError(f"is longer than {MAX_REASON} characters", field="reason")
    return text


# --- tiers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierChange:
    account: str
    from_tier: str
    to_tier: str
    changed: bool
    """False when the account already had the tier (nothing recorded)."""


def change_tier(
    session: Session,
    ctx: Context,
    account: Account,
    tier: str,
    *,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> TierChange:
    """Move an account to `tier` in the caller's transaction, with its reason on the trail;
    open suggestions made for its old tier no longer apply."""
    if tier not in {t.value for t in Tier}:
        raise InputError(
            f"unknown tier '{tier}'; tiers are {', '.join(t.value for t in Tier)}", field="tier"
        )
    before = account.tier
    if before == tier:
        return TierChange(account.name, before, tier, changed=False)
    account.tier = tier
    session.add(account)
    record_account_event(
        session,
        ctx,
        account,
        "tier_changed",
        actor=actor,
        reason=reason,
        from_tier=before,
        to_tier=tier,
        details=details,
    )
    for suggestion in session.exec(
        select(PortfolioSuggestion)
        .where(PortfolioSuggestion.account_id == account.id)
        .where(PortfolioSuggestion.status == SuggestionStatus.OPEN)
    ).all():
        if suggestion.to_tier != tier:
            suggestion.status = SuggestionStatus.SUPERSEDED
            suggestion.decided_at = ctx.clock()
            suggestion.decision_reason = f"the tier changed to {tier}"
            session.add(suggestion)
    return TierChange(account.name, before, tier, changed=True)


def set_tier(ctx: Context, name: str, tier: str, *, reason: str, actor: str) -> TierChange:
    """`bid account set-tier`: management or an admin moves an account, with a reason."""
    text = require_reason(reason)
    with transaction(ctx.engine) as session:
        require_portfolio_manager(session, actor, "change an account's tier")
        account = get_account(session, name)
        return change_tier(session, ctx, account, tier, actor=actor, reason=text)


# --- import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountImport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)


def _hierarchy_problems(
    rows: list[AccountRow], stored: dict[str, Account], file: str
) -> list[InputError]:
    """Unknown parents and cycles, with the file's rows laid over the stored accounts."""
    by_id = {a.id: a for a in stored.values()}
    parent_of: dict[str, str] = {
        key: by_id[a.parent_id].name_key
        for key, a in stored.items()
        if a.parent_id is not None and a.parent_id in by_id
    }
    names = {key: a.name for key, a in stored.items()}
    in_file = {row.key for row in rows}
    problems: list[InputError] = []
    for row in rows:
        names.setdefault(row.key, row.name)  # a stored account keeps its stored name
        if row.parent is None:
            continue
        parent = fold_name(row.parent)
        if parent not in in_file and parent not in stored:
            problems.append(
                InputError(
                    f"unknown parent '{row.parent}': neither in this file nor a stored account",
                    file=file,
                    row=row.row,
                    field="parent",
                )
            )
            continue
        parent_of[row.key] = parent
    for row in rows:
        path, current = [row.key], parent_of.get(row.key)
        while current is not None and current not in path:
            path.append(current)
            current = parent_of.get(current)
        if current == row.key:
            loop = " → ".join(names.get(k, k) for k in [*path, row.key])
            problems.append(
                InputError(
                    f"the group hierarchy would be a cycle: {loop}",
                    file=file,
                    row=row.row,
                    field="parent",
                )
            )
    return problems


_FIELDS = (
    "country",
    "customer_profile",
    "purchasing_process",
    "external_influences",
    "service_level",
    "potential_revenue_eur",
    "competitor",
    "competitor_contract_end",
)


def _owner(session: Session, ctx: Context, email: str, actor: str, where: str) -> Person:
    person = session.exec(select(Person).where(Person.email == email)).first()
    if person is None:
        person = Person(email=email, name=email.split("@")[0].replace(".", " ").title(), roles=[])
        session.add(person)
        session.flush()
        record_person_created(session, ctx, actor, person, where)
    return person


def import_accounts(
    ctx: Context, rows: list[AccountRow], *, file: str, actor: str
) -> AccountImport:
    """Create and update accounts from checked rows (intake.accounts.parse_accounts), all or
    nothing: a row naming an unknown parent, closing a cycle in the group hierarchy, or
    spelling a stored account's name differently (case or accents) refuses the file with
    one line per problem. A changed tier is recorded with the file and row as its reason."""
    result = AccountImport()
    with transaction(ctx.engine) as session:
        require_portfolio_manager(session, actor, "import accounts")
        stored = {a.name_key: a for a in session.exec(select(Account)).all()}
        problems = [
            InputError(
                f"'{row.name}' is the stored account '{stored[row.key].name}': the names differ "
                "only by case or accents (write it as stored)",
                file=file,
                row=row.row,
                field="name",
            )
            for row in rows
            if row.key in stored and stored[row.key].name != row.name
        ]
        problems += _hierarchy_problems(rows, stored, file)
        if problems:
            problems.sort(key=lambda p: p.row or 0)
            raise InputErrors(file, problems)
        touched: list[tuple[AccountRow, Account, dict[str, Any]]] = []
        for row in rows:
            where = f"{file} row {row.row}"
            account = stored.get(row.key)
            changes: dict[str, Any] = {}
            if account is None:
                account = Account(name=row.name, tier=row.tier, created_at=ctx.clock())
                session.add(account)
                session.flush()
                stored[row.key] = account
                record_account_created(session, ctx, account, actor, where)
                result.created.append(account.name)
            elif account.tier != row.tier:
                result.tier_changes.append(
                    change_tier(
                        session,
                        ctx,
                        account,
                        row.tier,
                        actor=actor,
                        reason=f"imported from {where}",
                    )
                )
            for name in _FIELDS:
                value = getattr(row, name)
                if value is not None and getattr(account, name) != value:
                    changes[name] = str(value)
                    setattr(account, name, value)
            if row.owner is not None:
                owner = _owner(session, ctx, row.owner, actor, where)
                if account.owner_id != owner.id:
                    account.owner_id = owner.id
                    changes["owner"] = owner.email
            touched.append((row, account, changes))
        for row, account, changes in touched:
            if row.parent is not None:
                parent = stored[fold_name(row.parent)]
                if account.parent_id != parent.id:
                    account.parent_id = parent.id
                    changes["parent"] = parent.name
            session.add(account)
            if changes and account.name not in result.created:
                record_account_event(
                    session,
                    ctx,
                    account,
                    "updated",
                    actor=actor,
                    details={"from": where, **changes},
                )
                result.updated.append(account.name)
            elif changes:
                record_account_event(
                    session,
                    ctx,
                    account,
                    "imported",
                    actor=actor,
                    details={"from": where, **changes},
                )
        return result


# --- sleeping and waking --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class CompetitorRecorded:
    account: str
    competitor: str
    contract_end: date
    wakes_on: date


def check_competitor(ctx: Context, competitor: str, contract_end: date) -> tuple[str, date]:
    """The competitor's name, tidied, and the day the account wakes: refused when the name is
    empty or too long or the contract end has passed."""
    competitor = " ".join(competitor.split())
    if not competitor or len(competitor) > 300:
        raise InputError("give the competitor's name (at most 300 characters)", field="competitor")
    free_text(competitor, "competitor")  # no control characters
    today = ctx.clock().date()
    if contract_end <= today:
        raise InputError(
            f"{contract_end.isoformat()} has passed; give the competitor's contract end",
            field="contract_end",
        )
    date_within(contract_end, today, "contract_end")
    lead = load_portfolio_rules(ctx.settings.rules_dir).wake_before_competitor_end_days
    return competitor, max(today, contract_end - timedelta(days=lead))


def learn_competitor(
    session: Session,
    ctx: Context,
    account: Account,
    *,
    competitor: str,
    contract_end: date,
    wakes_on: date,
    actor: str,
    reason: str | None,
) -> CompetitorRecorded:
    """Record a checked competitor (`check_competitor`) on the account, inside the caller's
    transaction: the account sleeps until `wakes_on`; the event is on its trail."""
    account.competitor, account.competitor_contract_end = competitor, contract_end
    account.sleeping_until = wakes_on
    session.add(account)
    record_account_event(
        session,
        ctx,
        account,
        "competitor_recorded",
        actor=actor,
        reason=(reason or "").strip() or None,
        details={
            "competitor": competitor,
            "contract_end": contract_end.isoformat(),
            "wakes_on": wakes_on.isoformat(),
        },
    )
    return CompetitorRecorded(account.name, competitor, contract_end, wakes_on)


def record_competitor(
    ctx: Context,
    name: str,
    *,
    competitor: str,
    contract_end: date,
    actor: str,
    reason: str | None = None,
) -> CompetitorRecorded:
    """What a lost bid taught us: who won and when their contract ends. The account sleeps
    until `wake.before_competitor_end_days` before that end (not before today). A loss
    recorded with its competitor (`bid result --lost --competitor ...`) does the same."""
    reason = free_text(reason, "reason", required=False, newlines=True) or None
    competitor, wakes_on = check_competitor(ctx, competitor, contract_end)
    with transaction(ctx.engine) as session:
        account = get_account(session, name)
        may_edit_account(session, account, actor)
        return learn_competitor(
            session,
            ctx,
            account,
            competitor=competitor,
            contract_end=contract_end,
            wakes_on=wakes_on,
            actor=actor,
            reason=reason,
        )


@dataclass(frozen=True)
class Woken:
    account: str
    sleeping_until: date
    told: tuple[str, ...]
    competitor: str | None


def _last_bid(session: Session, account: Account) -> Opportunity | None:
    return session.exec(
        select(Opportunity)
        .where(Opportunity.account_id == account.id)
        .order_by(col(Opportunity.id).desc())
    ).first()


def _wake_recipients(session: Session, account: Account, last: Opportunity | None) -> list[str]:
    """The account's owner; without one, the last bid's owner and account managers (the
    people who know why it slept)."""
    if account.owner_id is not None:
        owner = session.get(Person, account.owner_id)
        if owner is not None:
            return [owner.email]
    if last is None:
        return []
    told: list[str] = []
    if last.owner_id is not None:
        owner = session.get(Person, last.owner_id)
        if owner is not None:
            told.append(owner.email)
    for email in session.exec(
        select(Person.email)
        .where(TeamMember.opportunity_id == last.id)
        .where(TeamMember.person_id == Person.id)
        .where(TeamMember.role == Role.ACCOUNT_MANAGER)
    ).all():
        if email not in told:
            told.append(email)
    return told


def wake_due_accounts(session: Session, ctx: Context) -> list[Woken]:
    """Sleeping accounts whose date has come and that have no open bid: woken once per date
    (an event keyed by account and date), their owner told. In the caller's transaction."""
    today = ctx.clock().date()
    due = session.exec(
        select(Account)
        .where(col(Account.sleeping_until).is_not(None))
        .where(col(Account.sleeping_until) <= today)
    ).all()
    if not due:
        return []
    busy = set(
        session.exec(
            select(Opportunity.account_id)
            .where(col(Opportunity.account_id).in_([a.id for a in due]))
            .where(col(Opportunity.state).not_in([s.value for s in ENDS]))
        ).all()
    )
    keys = {f"woken:{a.id}:{a.sleeping_until}" for a in due}
    done = set(session.exec(select(AccountEvent.key).where(col(AccountEvent.key).in_(keys))).all())
    woken = []
    for account in due:
        key = f"woken:{account.id}:{account.sleeping_until}"
        if account.id in busy or key in done or account.sleeping_until is None:
            continue
        last = _last_bid(session, account)
        told = _wake_recipients(session, account, last)
        record_account_event(
            session,
            ctx,
            account,
            "woken",
            actor="rules",
            details={"sleeping_until": account.sleeping_until.isoformat(), "told": told},
            key=key,
        )
        text = ctx.messages.render(
            "account_woken",
            account=account.name,
            tier=account.tier,
            sleeping_until=account.sleeping_until.isoformat(),
            competitor=account.competitor,
            competitor_contract_end=(
                account.competitor_contract_end.isoformat()
                if account.competitor_contract_end
                else None
            ),
            ref=last.ref if last else None,
            title=last.title if last else None,
            state=last.state.value if last else None,
            category=last.result_category if last else None,
            reason=last.result_reason if last else None,
        )
        for email in told:
            outbox.enqueue(
                session,
                key=f"{key}:{email}",
                event="account_woken",
                text=text,
                opportunity_id=last.id if last else None,
                recipient_email=email,
            )
        woken.append(Woken(account.name, account.sleeping_until, tuple(told), account.competitor))
    return woken
