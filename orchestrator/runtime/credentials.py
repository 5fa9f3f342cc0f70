"""Which credential a `bid` caller presents to the local service, and checking it.

The folder's admin token lives in `<data dir>/admin.token` (mode 600), made on first use:
whoever can read it acts as the folder's admin, as with direct database access.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from orchestrator.config import Settings

ADMIN_TOKEN_FILE = "admin.token"


def admin_token_path(settings: Settings) -> Path:
    return settings.data_dir / ADMIN_TOKEN_FILE


def ensure_admin_token(settings: Settings) -> str:
    """The folder's admin token, created (mode 600) when there is none yet."""
    path = admin_token_path(settings)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def caller_token(settings: Settings) -> str | None:
    """The credential this caller presents: BID_TOKEN, else the folder's admin token."""
    token = os.environ.get("BID_TOKEN")
    if token:
        return token.strip()
    try:
        return admin_token_path(settings).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def check_token(settings: Settings, token: str) -> bool:
    """True when `token` is a valid credential for this folder."""
    try:
        admin = admin_token_path(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return bool(admin) and hmac.compare_digest(admin, token)
