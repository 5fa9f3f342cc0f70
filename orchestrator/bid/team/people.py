"""People: who they are, what the organisation granted them, how they prove it, who may act.

- A person's identity fields (e-mail, name, Slack user id) change only here, by an admin,
  each change written to the admin trail (`PeopleEvent`, built in this module only). An
  opportunity's YAML may name people and create new ones, never alter an existing one.
- Organisation-wide grants (management, finance, legal: approving every bid; admin;
  recorder) are given and taken here by an admin. A role named in a bid's team holds on
  that bid only (`TeamMember`).
- Credentials: an admin issues a person an access token, shown once and stored as its
  SHA-256. `authenticate` is the one check of a token, for the CLI and any future door.
- Acting: `check_actor` refuses a change to a bid by a person who holds no role on it;
  `act_for` lets an admin or recorder record an answer given by someone else.
- An admin's override of rules/duties.yaml on one approval is on the admin trail too
  (`record_duties_override`, called by the approval in its own transaction).

Actors that are not e-mail addresses ("system", "prefect", "rules", "demo") are the
process's own automation: only code running in-process can pass one, since every door
resolves its caller to a person first.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from orchestrator.bid.facts import get_person, team
from orchestrator.context import Context
from orchestrator.errors import InputError, NotAuthenticated, NotFound, NotPermitted
from orchestrator.intake.people import check_email, check_name, check_slack_user_id
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Credential, Grant, Opportunity, PeopleEvent, Person

TOKEN_PREFIX = "bid_"
ORGANISATION_GRANTS = frozenset({Grant.MANAGEMENT, Grant.FINANCE, Grant.LEGAL})
MAY_ACT_FOR_OTHERS = frozenset({Grant.ADMIN, Grant.RECORDER})
_ADVISORY_LOCK = 7_372_001  # PostgreSQL: one admin bootstrap at a time


def is_system_actor(actor: str) -> bool:
    """In-process automation ("system", "prefect", "demo"), not a person."""
    return "@" not in actor


def is_admin(person: Person) -> bool:
    return Grant.ADMIN in person.roles


SCHEDULE_ACTOR = "schedule"
"""The service's own schedule (the deadline watch, the renewal scan run by a flow): automation
in this process, not a person, so it passes `require_grant`."""


def require_grant(session: Session, actor: str, grants: Iterable[Grant], doing: str) -> str:
    """The actor, when they may do something that concerns the whole organisation rather than
    one bid: one of `grants`, or admin, or the process's own automation. `NotPermitted` (one
    line naming the roles) otherwise."""
    if is_system_actor(actor):
        return actor
    try:
        person = get_person(session, actor)
    except NotFound:
        raise NotPermitted(f"{actor} is nobody known here; {doing} needs a person") from None
    wanted = [*dict.fromkeys(grants)]
    if is_admin(person) or set(wanted) & set(person.roles):
        return person.email
    roles = " or ".join(grant.value for grant in wanted)
    raise NotPermitted(
        f"{person.email} may not {doing}: it needs the {roles} role or an admin "
        f"(bid people grant EMAIL --role {wanted[0].value})"
    )


# --- credentials -------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256 (tokens are random, 256 bits)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def authenticate(ctx: Context, token: str) -> Person:
    """The person a token belongs to; `NotAuthenticated` for an unknown or revoked token.

    The one credential check of the bid layer: the CLI calls it, and so will any door that
    serves people over a network.
    """
    if not token or not token.strip():
        raise NotAuthenticated("no access token given")
    with reading(ctx.engine) as session:
        row = session.exec(
            select(Credential, Person)
            .where(Credential.token_hash == token_digest(token))
            .where(Credential.person_id == Person.id)
        ).first()
        if row is None:
            raise NotAuthenticated("unknown access token: ask an admin for one (bid people token)")
        credential, person = row
        if credential.revoked_at is not None:
            raise NotAuthenticated(
                f"the access token of {person.email} was revoked: ask an admin for a new one"
            )
        return person


def _issue(
    session: Session, ctx: Context, person: Person, issued_by: str, token: str | None = None
) -> str:
    token = token.strip() if token else TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        Credential(
            person_id=person.id or 0,
            token_hash=token_digest(token),
            issued_at=ctx.clock(),
            issued_by=issued_by,
        )
    )
    _event(session, ctx, issued_by, "token_issued", person.email)
    return token


def has_admin(ctx: Context) -> bool:
    with reading(ctx.engine) as session:
        return any(is_admin(person) for person in session.exec(select(Person)).all())


@dataclass(frozen=True)
class Bootstrap:
    """The database's first admin and their token (shown once, kept in the admin token file)."""

    person: Person
    token: str


def bootstrap_admin(
    ctx: Context, email: str, name: str, token: str | None = None
) -> Bootstrap | None:
    """Make `email` the admin of a database that has none, with a token; None if it has one.

    The person who sets a folder up is its admin, so a one-person setup works without any
    ceremony; once a database has an admin, people get tokens from an admin. `token` adopts
    a token already written to the folder's admin token file (else a new one is made).
    """
    email = check_email(email, "admin e-mail")
    with transaction(ctx.engine) as session:
        if ctx.engine.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises
            session.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
        if any(is_admin(person) for person in session.exec(select(Person)).all()):
            return None
        person = session.exec(select(Person).where(Person.email == email)).first()
        if person is None:
            person = Person(email=email, name=check_name(name or email), roles=[])
        person.roles = sorted({*person.roles, Grant.ADMIN.value})
        session.add(person)
        session.flush()
        _event(session, ctx, email, "admin_bootstrapped", email, {"grant": Grant.ADMIN.value})
        return Bootstrap(person, _issue(session, ctx, person, email, token))


def recover_admin_token(ctx: Context, door: str) -> Bootstrap:
    """A new token for the database's first admin, for a folder whose admin token file was
    lost. Whoever can open the database can change it anyway (direct database access is an
    admin's door); the recovery is on the admin trail, naming the door it came through."""
    with transaction(ctx.engine) as session:
        admins = [p for p in session.exec(select(Person).order_by(col(Person.id))).all()]
        admin = next((p for p in admins if is_admin(p)), None)
        if admin is None:
            raise NotFound(
                "this database has no admin yet; any command that changes a bid makes one"
            )
        token = _issue(session, ctx, admin, door)
        _event(session, ctx, door, "admin_token_recovered", admin.email)
        return Bootstrap(admin, token)


# --- admin commands ----------------------------------------------------------------------------


def _require_admin(person: Person, what: str) -> None:
    if not is_admin(person):
        raise NotPermitted(f"{person.email} is not an admin; only an admin may {what}")


def _event(
    session: Session,
    ctx: Context,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        PeopleEvent(
            at=ctx.clock(), actor=actor, action=action, subject=subject, details=details or {}
        )
    )


def record_person_created(
    session: Session, ctx: Context, actor: str, person: Person, where: str
) -> None:
    """A new person named by an opportunity's team list, on the admin trail."""
    _event(
        session,
        ctx,
        actor,
        "person_created",
        person.email,
        {"name": person.name, "slack_user_id": person.slack_user_id, "from": where},
    )


def record_duties_override(
    session: Session, ctx: Context, *, actor: str, subject: str, details: dict[str, Any]
) -> None:
    """An admin set rules/duties.yaml aside for one approval: on the admin trail, in the
    approval's own transaction (`details` names the bid, area, duties and the reason)."""
    _event(session, ctx, actor, "duties_overridden", subject, details)


def _slack_id_free(session: Session, user_id: str, owner: Person | None) -> None:
    holder = session.exec(select(Person).where(Person.slack_user_id == user_id)).first()
    if holder is not None and (owner is None or holder.id != owner.id):
        raise InputError(f"Slack user {user_id} is already {holder.email}'s", field="slack_user_id")


def add_person(
    ctx: Context,
    email: str,
    *,
    by: Person,
    name: str | None = None,
    slack_user_id: str | None = None,
) -> Person:
    """A new person (admin only)."""
    _require_admin(by, "add people")
    email = check_email(email)
    with transaction(ctx.engine) as session:
        if session.exec(select(Person).where(Person.email == email)).first() is not None:
            raise InputError(f"{email} already exists (bid people set changes a person)")
        user_id = check_slack_user_id(slack_user_id) if slack_user_id else None
        if user_id:
            _slack_id_free(session, user_id, None)
        person = Person(
            email=email,
            name=check_name(name) if name else email.split("@")[0].replace(".", " ").title(),
            slack_user_id=user_id,
            roles=[],
        )
        session.add(person)
        session.flush()
        _event(
            session,
            ctx,
            by.email,
            "person_added",
            email,
            {"name": person.name, "slack_user_id": user_id},
        )
        return person


def set_person(
    ctx: Context,
    email: str,
    *,
    by: Person,
    name: str | None = None,
    slack_user_id: str | None = None,
    clear_slack_user_id: bool = False,
    new_email: str | None = None,
) -> Person:
    """Change a person's identity fields (admin only); each change on the admin trail."""
    _require_admin(by, "change people")
    with transaction(ctx.engine) as session:
        person = get_person(session, email)
        changes: dict[str, Any] = {}
        if name is not None and check_name(name) != person.name:
            changes["name"] = [person.name, check_name(name)]
            person.name = check_name(name)
        if clear_slack_user_id and person.slack_user_id is not None:
            changes["slack_user_id"] = [person.slack_user_id, None]
            person.slack_user_id = None
        elif slack_user_id is not None:
            user_id = check_slack_user_id(slack_user_id)
            if user_id != person.slack_user_id:
                _slack_id_free(session, user_id, person)
                changes["slack_user_id"] = [person.slack_user_id, user_id]
                person.slack_user_id = user_id
        if new_email is not None:
            address = check_email(new_email, "new e-mail")
            if address != person.email:
                if session.exec(select(Person).where(Person.email == address)).first():
                    raise InputError(f"{address} is already someone else's", field="new e-mail")
                changes["email"] = [person.email, address]
                person.email = address
        if not changes:
            raise InputError(f"nothing to change for {person.email}")
        session.add(person)
        _event(session, ctx, by.email, "person_changed", email.strip().lower(), changes)
        return person


def grant(ctx: Context, email: str, role: Grant, *, by: Person) -> bool:
    """Give an organisation-wide grant (admin only); False when the person already had it."""
    _require_admin(by, "grant roles")
    with transaction(ctx.engine) as session:
        person = get_person(session, email)
        if role.value in person.roles:
            return False
        person.roles = sorted({*person.roles, role.value})
        session.add(person)
        _event(session, ctx, by.email, "granted", person.email, {"role": role.value})
        return True


def revoke(ctx: Context, email: str, role: Grant, *, by: Person) -> bool:
    """Take an organisation-wide grant back (admin only); the last admin stays an admin."""
    _require_admin(by, "revoke roles")
    with transaction(ctx.engine) as session:
        person = get_person(session, email)
        if role.value not in person.roles:
            return False
        if role == Grant.ADMIN:
            admins = [p for p in session.exec(select(Person)).all() if is_admin(p)]
            if len(admins) == 1:
                raise NotPermitted(f"{person.email} is the only admin; grant another one first")
        person.roles = [r for r in person.roles if r != role.value]
        session.add(person)
        _event(session, ctx, by.email, "revoked", person.email, {"role": role.value})
        return True


def issue_token(ctx: Context, email: str, *, by: Person) -> str:
    """A new access token for the person (admin only); shown once, stored hashed."""
    _require_admin(by, "issue access tokens")
    with transaction(ctx.engine) as session:
        return _issue(session, ctx, get_person(session, email), by.email)


def revoke_tokens(ctx: Context, email: str, *, by: Person) -> int:
    """Revoke every live token of the person (admin only); returns how many."""
    _require_admin(by, "revoke access tokens")
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        person = get_person(session, email)
        live = session.exec(
            select(Credential).where(
                Credential.person_id == person.id, col(Credential.revoked_at).is_(None)
            )
        ).all()
        for credential in live:
            credential.revoked_at = now
            session.add(credential)
        _event(session, ctx, by.email, "tokens_revoked", person.email, {"count": len(live)})
        return len(live)


def list_people(ctx: Context) -> list[dict[str, Any]]:
    with reading(ctx.engine) as session:
        live = {
            person_id
            for person_id in session.exec(
                select(Credential.person_id).where(col(Credential.revoked_at).is_(None))
            ).all()
        }
        return [
            {
                "email": p.email,
                "name": p.name,
                "slack_user_id": p.slack_user_id,
                "grants": list(p.roles),
                "has_token": p.id in live,
            }
            for p in session.exec(select(Person).order_by(col(Person.email))).all()
        ]


def people_history(ctx: Context) -> list[dict[str, Any]]:
    with reading(ctx.engine) as session:
        return [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": e.details,
            }
            for e in session.exec(select(PeopleEvent).order_by(col(PeopleEvent.id))).all()
        ]


# --- who may act ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """Who a change is recorded for (`actor`), and who recorded it when someone else did."""

    actor: str
    recorder: str | None = None


def act_for(ctx: Context, caller: Person, by: str | None) -> Acting:
    """The caller acts as themselves; only an admin or recorder may name someone else."""
    if by is None or not by.strip() or by.strip().lower() == caller.email:
        return Acting(caller.email)
    if not MAY_ACT_FOR_OTHERS & set(caller.roles):
        raise NotPermitted(
            f"{caller.email} may not act for {by.strip()}: only an admin or a recorder "
            "(bid people grant EMAIL --role recorder) records for someone else"
        )
    with reading(ctx.engine) as session:
        person = get_person(session, by)
    return Acting(person.email, caller.email)


def holds_any_role(session: Session, opportunity: Opportunity, person: Person) -> bool:
    """A role on the bid's team, an organisation grant, or admin."""
    if is_admin(person) or ORGANISATION_GRANTS & set(person.roles):
        return True
    return any(member.id == person.id for _, member in team(session, opportunity.id or 0))


def check_actor(session: Session, opportunity: Opportunity, actor: str) -> None:
    """Refuse a change to this bid by a person who holds no role on it."""
    if is_system_actor(actor):
        return
    try:
        person = get_person(session, actor)
    except NotFound:
        raise NotPermitted(f"{actor} is nobody known here; changes need a person") from None
    if not holds_any_role(session, opportunity, person):
        raise NotPermitted(
            f"{person.email} holds no role on {opportunity.ref}; a change needs a role on its "
            "team, an organisation role or an admin"
        )
