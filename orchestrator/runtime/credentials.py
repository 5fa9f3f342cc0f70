"""Which credential a thin `bid` presents to the folder's service (cheap: no database here).

The same order as `orchestrator.cli.identity` (where the credential is checked and the
person found, with `bid.people.authenticate`):

1. `BID_TOKEN`;
2. what `bid login` stored for this OS user and this database (`~/.config/bid/credentials`);
3. the folder's own admin token, `<data dir>/admin.token` (mode 600).

`bid server` makes sure the admin token file exists before it takes commands, so the person
who set the folder up can use it at once; the service adopts it as the admin's token.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from orchestrator.config import Settings


def database_key(database_url: str) -> str:
    """The database a stored token is for: its URL with the password hidden (as stored)."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def caller_token(settings: Settings) -> str | None:
    """The credential this caller presents, or None."""
    if settings.token:
        return settings.token.strip()
    try:
        stored = json.loads(settings.credentials_file.read_text(encoding="utf-8"))
        token = (
            stored.get(database_key(settings.database_url)) if isinstance(stored, dict) else None
        )
        if token:
            return str(token).strip()
    except (OSError, ValueError):
        pass
    try:
        return settings.admin_token_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def ensure_admin_token(settings: Settings) -> None:
    """Write the folder's admin token file (mode 600) when there is none yet."""
    path = settings.admin_token_file
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(secrets.token_urlsafe(32) + "\n")


# --- the folder's files are this OS user's only -------------------------------------------------

PRIVATE_UMASK = 0o077
"""Every file `bid` and its service create is 0600 and every folder 0700 (the database, the
admin token, `.bid/`, its logs, `bid-output/` and the documents in it): another local user
reads nothing, whatever a command is asked to write."""
_SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL (`sqlite:///bid.db`), else None."""
    if not database_url.startswith("sqlite"):
        return None
    _, sep, rest = database_url.partition(":///")
    path = rest.split("?", 1)[0]
    return Path(path) if sep and path and path != ":memory:" else None


def keep_private(settings: Settings) -> list[Path]:
    """Take group and world access away from the folder's own files that exist already (made
    before `PRIVATE_UMASK`, or copied in): the SQLite database and its journals 0600, the data
    folder and the output folder 0700 (which closes everything inside them). Only paths this
    OS user owns are changed; a PREFECT_HOME, or an output folder outside the project folder
    (a team share), of the user's choosing is left as it is (what `bid` writes in it is 0600
    all the same). Returns the paths changed."""
    changed: list[Path] = []
    database = sqlite_path(settings.database_url)
    files = [Path(f"{database}{suffix}") for suffix in _SQLITE_SIDECARS] if database else []
    files.append(settings.admin_token_file)
    folders = [settings.data_dir]
    if settings.output_url is None and settings.output_dir.parent == settings.data_dir.parent:
        folders.append(settings.output_dir)  # the project's own; a shared one is left alone
    for path, mode in [*((f, 0o600) for f in files), *((d, 0o700) for d in folders)]:
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or not info.st_mode & 0o077:
            continue
        try:
            path.chmod(mode)
        except OSError:
            continue
        changed.append(path)
    return changed
