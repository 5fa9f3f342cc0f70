"""Who runs `bid`: the person behind the caller's access token.

The token comes from, in this order:

1. `BID_TOKEN` (scripts, CI);
2. what `bid login` stored for this OS user and this database (`~/.config/bid/credentials`,
   mode 600; `BID_CREDENTIALS_FILE` elsewhere);
3. the folder's own admin token, `<data dir>/admin.token` (`.bid/admin.token`, mode 600).
   A database without an admin gets one on first use: the person who set the folder up
   (`BID_ADMIN_EMAIL`, default `<login>@bid.localhost`), whose token is written there (or,
   when the local service already wrote that file, is the token in it). So a one-person
   folder, `bid demo` and the README's commands work without a login.

Once a database has an admin, anyone else needs a token from them (`bid people token`).
Checking a token is `bid.people.authenticate`, the one credential check of the bid layer.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from orchestrator.bid.team.people import act_for, authenticate, bootstrap_admin, has_admin
from orchestrator.bid.trail.recording import recorded_by
from orchestrator.config import Settings
from orchestrator.context import Context
from orchestrator.errors import InputError, NotAuthenticated
from orchestrator.store.models import Person

ADMIN_DOMAIN = "bid.localhost"


def database_key(settings: Settings) -> str:
    """Which database a stored token is for: its URL without the password."""
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return settings.database_url


def _login_name() -> str:
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment (some containers)
        name = "admin"
    return re.sub(r"[^a-z0-9._-]", "", name.lower()) or "admin"


def folder_admin_email(settings: Settings) -> str:
    return settings.admin_email or f"{_login_name()}@{ADMIN_DOMAIN}"


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), in a directory only they can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, text.encode())
    finally:
        os.close(handle)


def stored_tokens(settings: Settings) -> dict[str, str]:
    try:
        data = json.loads(settings.credentials_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise InputError(
            f"cannot read the stored credentials ({error}); delete the file and run bid login",
            file=str(settings.credentials_file),
        ) from None
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def store_token(settings: Settings, token: str | None) -> None:
    """Keep (or, with None, forget) this OS user's token for the settings' database."""
    tokens = stored_tokens(settings)
    key = database_key(settings)
    if token is None:
        tokens.pop(key, None)
    else:
        tokens[key] = token
    write_secret(settings.credentials_file, json.dumps(tokens, indent=2, sort_keys=True) + "\n")


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One process at a time sets up the folder's admin (an OS file lock, where there is one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the database transaction still serialises
        yield
        return
    with path.with_name(path.name + ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _folder_admin(ctx: Context) -> Person:
    file = ctx.settings.admin_token_file
    with _exclusive(file):
        existing = file.read_text(encoding="utf-8").strip() if file.exists() else ""
        if existing:
            try:
                return authenticate(ctx, existing)
            except NotAuthenticated:
                if has_admin(ctx):
                    raise NotAuthenticated(
                        f"the admin token in {file} is not valid for this database; log in "
                        "with a token from its admin (bid login)"
                    ) from None
        email = folder_admin_email(ctx.settings)
        made = bootstrap_admin(ctx, email, email.split("@")[0], existing or None)
        if made is None:
            raise NotAuthenticated(
                "no access token for this database: ask an admin for one "
                "(bid people token EMAIL), then run bid login"
            )
        if not existing:
            write_secret(file, made.token + "\n")
        return made.person


_PRESENTED: ContextVar[str | None] = ContextVar("presented_token", default=None)


@contextmanager
def presented(token: str) -> Iterator[None]:
    """Run a command as the holder of `token` (the CLI service: the thin caller's token)."""
    handle = _PRESENTED.set(token)
    try:
        yield
    finally:
        _PRESENTED.reset(handle)


def current_person(ctx: Context) -> Person:
    """The person running this command (see the module docstring for where from)."""
    settings = ctx.settings
    sent = _PRESENTED.get()
    if sent:
        return authenticate(ctx, sent)
    if settings.token:
        return authenticate(ctx, settings.token)
    stored = stored_tokens(settings).get(database_key(settings))
    if stored:
        return authenticate(ctx, stored)
    return _folder_admin(ctx)


@contextmanager
def acting(ctx: Context, by: str | None) -> Iterator[str]:
    """The e-mail a change is recorded for: the caller, or with `--by` the person an admin
    or recorder records it for (audited as "recorded by <caller>")."""
    who = act_for(ctx, current_person(ctx), by)
    with recorded_by(who.recorder, who.actor):
        yield who.actor
