"""A session keeps the rows `get` returned until it closes (`orchestrator.store.db._Session`);
a pooled PostgreSQL connection is checked without a round trip.

SQLAlchemy's identity map holds rows weakly: an account read for its name and dropped was read
again by the next `session.get` of it in the same block (a bid's steps read its account some
80 times). A locked read still reads the row again, under the lock.
"""

from __future__ import annotations

import gc
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from orchestrator.bid.facts import account_of, get_opportunity
from orchestrator.context import Context
from orchestrator.store.db import POOL_SIZE, reading, transaction, write_one
from orchestrator.store.models import Account
from tests.factories import new_bid, record_statements


def test_a_row_read_and_dropped_is_not_read_again_in_the_same_block(ctx: Context) -> None:
    ref = new_bid(ctx, 0)
    selects = record_statements(ctx.engine)
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
    connection the server closed meanwhile is not handed out, by the pool that writes nor by
    the one `reading` uses: the next block just works."""
    ref = new_bid(ctx, 0)
    pid = text("SELECT pg_backend_pid()")
    with transaction(ctx.engine) as session:
        writer = session.execute(pid).scalar_one()
    with reading(ctx.engine) as session:
        reader = session.execute(pid).scalar_one()
    with transaction(ctx.engine) as session:  # the same pooled connection
        assert session.execute(pid).scalar_one() == writer
    with reading(ctx.engine) as session:
        assert session.execute(pid).scalar_one() == reader
    admin = create_engine(ctx.settings.database_url)  # another process: the server ends them
    with admin.connect() as other:  # (a restart of PostgreSQL does the same)
        for ended in (writer, reader):
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        other.commit()
        # ended, not ending: the backends are gone (a connection the server closes at the
        # very moment it is handed out fails its first statement, as one in use does)
        deadline = time.monotonic() + 10
        while other.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid IN (:w, :r)"),
            {"w": writer, "r": reader},
        ).scalar_one():
            assert time.monotonic() < deadline, "the server did not end the backends"
            other.commit()
            time.sleep(0.02)
    admin.dispose()
    for _ in range(3):  # whichever pooled connection the next blocks get: none is dead
        with transaction(ctx.engine) as session:
            assert get_opportunity(session, ref).ref == ref
            assert session.execute(pid).scalar_one() not in (writer, reader)
        with reading(ctx.engine) as session:
            assert get_opportunity(session, ref).ref == ref
            assert session.execute(pid).scalar_one() not in (writer, reader)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_read_block_on_postgresql_sends_no_begin_and_still_refuses_to_write(
    ctx: Context,
) -> None:
    """Each statement of a read block is its own read-only transaction: no BEGIN or COMMIT
    goes to the server, and a write (a change flushed by mistake) fails there."""
    ref = new_bid(ctx, 0)
    with reading(ctx.engine) as session:
        session.execute(text("SELECT pg_sleep(0.01)"))
        own_transaction = session.execute(  # the same only in a transaction's first statement
            text("SELECT transaction_timestamp() = statement_timestamp()")
        ).scalar_one()
    assert own_transaction is True
    with pytest.raises(DBAPIError, match="read-only"), reading(ctx.engine) as session:
        opportunity = get_opportunity(session, ref)
        opportunity.title = "written by mistake"
        session.flush()
    with reading(ctx.engine) as session:
        assert get_opportunity(session, ref).title != "written by mistake"


def test_a_one_statement_write_is_its_own_transaction_on_postgresql(ctx: Context) -> None:
    """`write_one` (an effect marked done, a message marked sent) changes the row on both
    databases; on PostgreSQL without a BEGIN before it (autocommit), so that the statement's
    start is its transaction's start."""
    ref = new_bid(ctx, 0)
    with reading(ctx.engine) as session:
        opportunity_id = get_opportunity(session, ref).id
    own = "transaction_timestamp() = statement_timestamp()" if _postgres(ctx) else "1 = 1"
    changed = write_one(  # no parameters: a bound statement's start is its Bind message
        ctx.engine,
        text(f"UPDATE opportunity SET title = 'marked' WHERE id = {opportunity_id:d} AND {own}"),
    )
    assert changed == 1
    with reading(ctx.engine) as session:
        assert get_opportunity(session, ref).title == "marked"


def _postgres(ctx: Context) -> bool:
    return ctx.engine.dialect.name == "postgresql"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_burst_of_a_task_workers_threads_reuses_the_connections_of_the_last_one(
    ctx: Context,
) -> None:
    """A task worker carries up to 8 bids at once (`--limit`): a pool keeps that many open
    between bursts, by the pool that writes and by the one `reading` uses. SQLAlchemy's
    default kept 5 and opened the rest again at every burst (a new server process each)."""
    import threading

    pid = text("SELECT pg_backend_pid()")
    threads = POOL_SIZE

    def burst() -> set[tuple[str, int]]:
        together = threading.Barrier(threads)
        seen: set[tuple[str, int]] = set()
        lock = threading.Lock()

        def work() -> None:
            with transaction(ctx.engine) as session, reading(ctx.engine) as read:
                got = {("write", session.execute(pid).scalar_one()),
                       ("read", read.execute(pid).scalar_one())}  # fmt: skip
                together.wait(timeout=30)  # all of them hold their connections at once
            with lock:
                seen.update(got)

        running = [threading.Thread(target=work) for _ in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=60)
        return seen

    first = burst()
    assert len(first) == 2 * threads  # each thread its own connection in each pool
    assert burst() == first  # the same connections: none closed and opened again


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_statements_a_bid_uses_often_stay_prepared(ctx: Context) -> None:
    """psycopg prepares a statement used five times and kept 100 (the counts too): a bid's
    steps use some 370 on one connection, 135 of them that often, so most were never
    prepared. Each pool's connections keep `PREPARED_MAX`."""
    statements = [text(f"SELECT CAST(:n AS int) AS often_{n}") for n in range(150)]
    count = text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%AS often_%'")
    for block in (transaction, reading):  # a connection of each pool
        with block(ctx.engine) as session:
            for _ in range(6):  # prepared at the sixth
                for n, statement in enumerate(statements):
                    session.execute(statement, {"n": n})
            assert session.execute(count).scalar_one() == len(statements), block.__name__
