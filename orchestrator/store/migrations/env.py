"""Alembic environment: runs on the engine handed in by `orchestrator.store.db`."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

from orchestrator.store import models  # noqa: F401

target_metadata = SQLModel.metadata
config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///bid.db")
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy tables, which foreign keys forbid; they are checked after.
            # The pragma is a no-op inside a transaction: set it on the raw connection first.
            _raw_sqlite(connection).execute("PRAGMA foreign_keys=OFF")
        with connection.begin():
            migrate_on(connection)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        if sqlite:
            _raw_sqlite(connection).execute("PRAGMA foreign_keys=ON")


def _raw_sqlite(connection: Connection) -> Any:
    return connection.connection.driver_connection


def migrate_on(connection: Connection) -> None:
    """Run the pending migrations on one connection, in its transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()


run_migrations()
