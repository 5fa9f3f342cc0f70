"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from orchestrator.context import Context
from orchestrator.store.db import is_current, migrate


def test_migrated_schema_matches_the_models(ctx: Context) -> None:
    assert is_current(ctx.engine)
    with ctx.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], (
        "a model changed without a migration: add one in orchestrator/store/migrations"
    )


def test_migrate_is_idempotent(ctx: Context) -> None:
    migrate(ctx.engine)
    migrate(ctx.engine)
    with ctx.engine.connect() as connection:
        versions = connection.execute(text("select version_num from alembic_version")).all()
    assert len(versions) == 1


def test_sqlite_runs_in_wal_mode(ctx: Context) -> None:
    if not ctx.settings.is_sqlite:
        assert ctx.engine.dialect.name == "postgresql"
        return
    with ctx.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 15000


def test_schema_head_constant_names_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from orchestrator.store.db import MIGRATIONS_DIR, SCHEMA_HEAD

    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_heads() == [SCHEMA_HEAD]
