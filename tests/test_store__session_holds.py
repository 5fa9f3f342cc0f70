"""A session keeps the rows `get` returned until it closes (`orchestrator.store.db._Session`);
a pooled PostgreSQL connection is checked without a round trip.

SQLAlchemy's identity map holds rows weakly: an account read for its name and dropped was read
again by the next `session.get` of it in the same block (a bid's steps read its account some
80 times). A locked read still reads the row again, under the lock.
"""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import create_engine, event, text

from orchestrator.bid.facts import account_of, get_opportunity
from orchestrator.context import Context
from orchestrator.store.db import reading, transaction
from orchestrator.store.models import Account
from tests.factories import new_bid


def test_a_row_read_and_dropped_is_not_read_again_in_the_same_block(ctx: Context) -> None:
    ref = new_bid(ctx, 0)
    selects: list[str] = []
    event.listen(
        ctx.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: selects.append(statement),
    )
    with reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        names = []
        for _ in range(3):
            names.append(account_of(session, opportunity).name)  # read, used, dropped
            gc.collect()
    accounts = [s for s in selects if "FROM account" in s]
    assert len(accounts) == 1 and len(set(names)) == 1
    with reading(ctx.engine) as session:  # a new block reads it afresh
        assert session.get(Account, opportunity.account_id) is not None
    assert len([s for s in selects if "FROM account" in s]) == 2


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_locked_read_sees_the_row_as_committed_meanwhile(ctx: Context) -> None:
    ref = new_bid(ctx, 0)
    with transaction(ctx.engine) as session:
        before = get_opportunity(session, ref)
        assert before.title != "renamed meanwhile"
        with ctx.engine.begin() as other:  # another door commits a change to the bid
            other.execute(
                text("UPDATE opportunity SET title = 'renamed meanwhile' WHERE id = :id"),
                {"id": before.id},
            )
        locked = get_opportunity(session, ref, lock=True)
        assert locked is before  # the same row object, read again under the lock
        assert locked.title == "renamed meanwhile"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_pooled_connection_the_server_ended_is_never_handed_out(ctx: Context) -> None:
    """Checkouts ask the server nothing (SQLAlchemy's pre-ping asked at each one), yet a
    connection the server closed meanwhile is not handed out: the next block just works."""
    ref = new_bid(ctx, 0)
    statements: list[str] = []
    event.listen(
        ctx.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    with reading(ctx.engine) as session:
        first = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with reading(ctx.engine) as session:  # the same pooled connection
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
    assert statements == ["SELECT pg_backend_pid()"] * 2
    admin = create_engine(ctx.settings.database_url)  # another process: the server ends it
    with admin.connect() as other:  # (a restart of PostgreSQL does the same)
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        other.commit()
    admin.dispose()
    for _ in range(3):  # whichever pooled connection the next block gets: none is dead
        with transaction(ctx.engine) as session:
            assert get_opportunity(session, ref).ref == ref
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
