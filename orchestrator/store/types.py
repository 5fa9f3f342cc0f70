"""Column types: a `StrEnum` stored as its text value, read back as the enum member."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E], Generic[E]):
    """A `StrEnum` kept as plain text (no database enum type to migrate when a value is added).

    Writing refuses a value outside the enum; reading returns the enum member, so code
    compares `row.state == State.KICK_OFF` and never casts.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum(value)

    def __repr__(self) -> str:  # what Alembic writes into a migration
        return "sa.String()"
