"""A dump of the whole database as text, the same on SQLite and PostgreSQL: compare two dumps
to show a refused input changed nothing."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlmodel import SQLModel


def dump(engine: Engine) -> str:
    """Every row of every table, ordered by primary key, one line a row."""
    lines: list[str] = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            lines.append(f"-- {table.name}")
            order = list(table.primary_key.columns) or list(table.columns)
            for row in connection.execute(select(table).order_by(*order)):
                lines.append(repr(tuple(row)))
        connection.rollback()
    return "\n".join(lines) + "\n"
