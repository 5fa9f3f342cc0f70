"""What a person's identity fields may look like, wherever they are typed (YAML, `bid people`)."""

from __future__ import annotations

import re

from orchestrator.errors import InputError
from orchestrator.text import has_control_characters

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SLACK_USER_ID_PATTERN = r"^[UW][A-Z0-9]{2,31}$"
MAX_EMAIL = 254
MAX_NAME = 200


def check_email(value: str, field: str = "email") -> str:
    """The e-mail, trimmed and lower-cased; `InputError` naming `field` when malformed."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL or has_control_characters(email):
        raise InputError("is not an e-mail address", field=field)
    if not re.match(EMAIL_PATTERN, email):
        raise InputError(f"'{email}' is not an e-mail address", field=field)
    return email


def check_slack_user_id(value: str, field: str = "slack_user_id") -> str:
    """A Slack user id (U… or W…, upper-case letters and digits)."""
    user_id = value.strip()
    if not re.match(SLACK_USER_ID_PATTERN, user_id):
        raise InputError(
            "is not a Slack user id (U or W and 2-31 upper-case letters or digits)", field=field
        )
    return user_id


def check_name(value: str, field: str = "name") -> str:
    """A person's display name: 1-200 characters, one line."""
    name = value.strip()
    if not name or len(name) > MAX_NAME or has_control_characters(name):
        raise InputError(f"must be 1-{MAX_NAME} characters on one line", field=field)
    return name
