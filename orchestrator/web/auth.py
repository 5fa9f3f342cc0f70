"""Who is signed in to the workspace: the session secret, one-time sign-in links, CSRF tokens.

- The session cookie is signed with a secret kept in the folder's data directory
  (`web-session.key`, mode 0600), made on first use, so sessions survive a restart of the
  workspace and no two folders share one.
- A one-time link (`bid people link EMAIL`, made in `orchestrator.cli.web`) is redeemed
  here: good for `LINK_MINUTES` and only once, since redeeming it revokes it in the same
  statement that checks it is live, so two clicks cannot both sign in.
- CSRF: each session holds a random token; every form posts it back and a POST without the
  session's token is refused (403) before anything is read from it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from orchestrator.cli.web import LINK_MINUTES, LINK_TOKEN_PREFIX, link_hash
from orchestrator.context import Context
from orchestrator.errors import NotAuthenticated
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Credential, PeopleEvent, Person

SECRET_FILE = "web-session.key"


def session_secret(data_dir: Path) -> str:
    """The folder's cookie-signing secret (made on first use, readable by its owner only)."""
    path = data_dir / SECRET_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if len(text) >= 32:
        return text
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, (secret + "\n").encode("ascii"))
    finally:
        os.close(handle)
    return secret


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def redeem_link(ctx: Context, token: str) -> Person:
    """The person a live link belongs to; the link is used up. `NotAuthenticated` otherwise."""
    token = token.strip()
    if not token.startswith(LINK_TOKEN_PREFIX):
        raise NotAuthenticated("this sign-in link is not valid: ask an admin for a new one")
    digest = link_hash(token)
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        credential = session.exec(select(Credential).where(Credential.token_hash == digest)).first()
        if credential is None:
            raise NotAuthenticated("this sign-in link is not valid: ask an admin for a new one")
        if credential.revoked_at is not None:
            raise NotAuthenticated("this sign-in link was already used: ask an admin for a new one")
        if _aware(credential.issued_at) + timedelta(minutes=LINK_MINUTES) < now:
            raise NotAuthenticated("this sign-in link has expired: ask an admin for a new one")
        used = session.execute(
            update(Credential)
            .where(col(Credential.id) == credential.id, col(Credential.revoked_at).is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise NotAuthenticated("this sign-in link was already used: ask an admin for a new one")
        person = session.get(Person, credential.person_id)
        if person is None:  # pragma: no cover - the foreign key keeps the person
            raise NotAuthenticated("this sign-in link names nobody")
        return person


def session_person(ctx: Context, cookie: Mapping[str, Any]) -> Person | None:
    """The signed-in person, read again on every request (an e-mail change shows at once);
    None when the session names nobody, or when an admin revoked the person's tokens since
    they signed in (`bid people token EMAIL --revoke` ends their sessions too)."""
    person_id, since = cookie.get("person"), cookie.get("since")
    if not isinstance(person_id, int) or not isinstance(since, str):
        return None
    try:
        signed_in = _aware(datetime.fromisoformat(since))
    except ValueError:
        return None
    with reading(ctx.engine) as session:
        person = session.get(Person, person_id)
        if person is None:
            return None
        revocations = session.exec(
            select(PeopleEvent.at).where(
                PeopleEvent.action == "tokens_revoked", PeopleEvent.subject == person.email
            )
        ).all()
    if any(_aware(at) >= signed_in for at in revocations):
        return None
    return person


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: object, given: object) -> bool:
    """The posted token is the session's (compared in constant time)."""
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected.encode(), given.encode())
    )
