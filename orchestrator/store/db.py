"""Database engine and sessions: SQLite (WAL, busy timeout) by default, PostgreSQL by URL.

The schema is owned by Alembic migrations in `orchestrator/store/migrations`; `open_database`
brings any database up to the newest revision before use.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, create_engine, event, make_url, text
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlmodel import Session

from orchestrator.errors import BidError
from orchestrator.store import models  # noqa: F401  (registers the tables on SQLModel.metadata)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000


class _Session(Session):
    """A session that keeps every row it was asked for by primary key until it closes.

    SQLAlchemy's identity map holds rows weakly: a row read, used and dropped (an account
    read for its name) is gone by the next `session.get` of it in the same block, which
    reads it again. A bid's steps read its account 80 times that way, its opportunity as
    often. A session here lives for one block (`reading`, `transaction`), so holding what
    `get` returned costs little memory and makes the next `get` of it free. A row is read
    again only for a lock (`get_opportunity(lock=True)` refreshes it from the locked row).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: list[object] = []

    def get(self, *args: Any, **kwargs: Any) -> Any:
        row = super().get(*args, **kwargs)
        if row is not None:
            self.held.append(row)
        return row

    def close(self) -> None:
        self.held.clear()
        super().close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: writers queue on the busy timeout
    # instead of failing when two processes read, then write the same bid.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "bid_read_only"
"""Execution option of the engine `reading` uses: its transactions never take the write lock."""


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock at BEGIN (IMMEDIATE) and queue; readers (WAL) never wait.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


POOL_SIZE = 8
"""PostgreSQL connections a pool keeps open between uses: a task worker's threads at its
default `--limit`. SQLAlchemy's default (5) closed every connection past the fifth when a
burst of bids ended and opened it again at the next: 19 new connections a batch of 20 bids,
each a new server process that prepares its statements again."""
POOL_OVERFLOW = 7
"""Connections opened past `POOL_SIZE` in a burst, closed after it: at most 15 a pool, as
before."""


PREPARED_MAX = 500
"""Statements a PostgreSQL connection keeps count of and prepared (psycopg's `prepared_max`).
psycopg prepares a statement once it was used five times, and kept 100, least recently used
first out, the counts too: a bid's steps send some 370 statements on one connection, 135 of
them five times or more, so most were never prepared, parsed and planned at every use
(17 % of PostgreSQL's CPU for our statements, 6 % of the client's, measured on 20 bids
carried to contract in one process)."""


def _keep_prepared(dbapi_connection: Any, _record: Any) -> None:
    if hasattr(dbapi_connection, "prepared_max"):  # psycopg 3
        dbapi_connection.prepared_max = PREPARED_MAX


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL and a busy timeout so processes can share it."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 15}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(database_url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    reader = create_engine(
        database_url,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": "-c default_transaction_read_only=on"},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )
    for pool in (engine, reader):
        event.listen(pool, "checkout", _still_connected)
        event.listen(pool, "connect", _keep_prepared)
    event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
    _READERS[engine] = reader
    return engine


_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
"""PostgreSQL: the engine `reading` uses beside each engine `make_engine` made. Its own pool,
whose connections read in autocommit with every statement read-only: a read block costs no
BEGIN and COMMIT round trips (two of its three or four), and a write in it still fails."""


def engines(engine: Engine) -> tuple[Engine, ...]:
    """`engine` and, on PostgreSQL, the reader `reading` uses beside it: what listens to every
    statement sent to the database (a test counting them) listens to each."""
    reader = _READERS.get(engine)
    return (engine,) if reader is None else (engine, reader)


def _still_connected(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection is handed out only while the server has not closed it.

    An idle connection receives nothing from the server unless the server ends it (a
    restart, `pg_terminate_backend`: a last message, then the end of the stream), so a
    socket with something to read, or none, is given up: the pool opens a fresh connection
    instead (raising `DisconnectionError` here asks it to). This replaces SQLAlchemy's
    `pool_pre_ping`, which asked the server a question at every checkout: a round trip
    for each of the ~200 transactions of a bid in production mode."""
    from psycopg import Error as PsycopgError  # the PostgreSQL driver (SQLite never checks)

    try:
        broken = bool(dbapi_connection.closed) or bool(getattr(dbapi_connection, "broken", False))
        waiting = broken or bool(select.select([dbapi_connection.fileno()], [], [], 0)[0])
    except (OSError, ValueError, PsycopgError):  # no socket left to look at
        waiting = True
    if waiting:
        raise DisconnectionError("the server closed this connection")


SCHEMA_HEAD = "0020"
"""The newest migration in `orchestrator/store/migrations/versions` (a test keeps them in step).

Checking it with one query lets every command skip importing Alembic when the database is
already current — Alembic runs only when there is something to migrate.
"""


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except (OperationalError, ProgrammingError):  # a new database: no alembic_version yet
        return False
    return [row[0] for row in versions] == [SCHEMA_HEAD]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (no-op when it already is)."""
    if is_current(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    command.upgrade(config, "head")


def open_database(database_url: str) -> Engine:
    """An engine on a migrated database; a URL that cannot be opened is the user's to fix."""
    try:
        engine = make_engine(database_url)
        migrate(engine)
    except (OperationalError, ArgumentError, NoSuchModuleError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BidError(f"cannot open the database {safe_url(database_url)}: {detail}") from exc
    return engine


def safe_url(database_url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable BID_DATABASE_URL)"


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session that only reads: on SQLite it takes no write lock, so a long read (rendering
    a 3,200-site proposal) never makes a writer (a Slack click) wait, nor waits for one.

    Nothing is written; an attempt to write fails on PostgreSQL (read-only transaction).
    Rows read stay readable after the block (detached, not expired).

    On PostgreSQL each statement is a read-only transaction of its own, on a connection of
    the engine's reader pool (`make_engine`): the same as statements of one READ COMMITTED
    transaction (each sees what was committed when it started), without the BEGIN and the
    COMMIT. A read never ends with a ROLLBACK there: psycopg forgets every statement it
    prepared on the connection at one, which made the server parse and plan the same
    queries again and again (a bid reads in about 200 of these blocks). On SQLite it rolls
    back, so that nothing a block changed by mistake is ever written.
    """
    postgres = engine.dialect.name == "postgresql"
    bind = _READERS.get(engine)
    if bind is None:  # SQLite, or an engine not made here: a read-only transaction
        options: dict[str, Any] = {READ_ONLY: True}
        if postgres:
            options["postgresql_readonly"] = True
        bind = engine.execution_options(**options)
    with _Session(bind, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.expunge_all()
            session.rollback()
            raise
        session.expunge_all()  # nothing left to flush: what was read is detached
        if postgres:
            session.commit()
        else:
            session.rollback()


SettleStep = Callable[[Session], None]
_SETTLE = "bid_settle"


def settle_before_commit(session: Session, key: Hashable, step: SettleStep) -> None:
    """Ask this unit of work to run `step` once, inside its transaction, just before it
    commits (a bid's milestones brought in line with everything the unit changed).

    Explicit and local to the `transaction` below: no global session event does work."""
    session.info.setdefault(_SETTLE, {})[key] = step


def _settle(session: Session) -> None:
    while steps := session.info.pop(_SETTLE, None):  # a step may ask for another
        for step in steps.values():
            step(session)


COMMITTED = [0]
"""Write transactions this process committed (a door drains effects after a command that
wrote; one that only read leaves them to the next writer or the schedule)."""


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error.

    The steps asked for with `settle_before_commit` run last, in the same transaction.
    On SQLite it starts with BEGIN IMMEDIATE: keep it short, and render nothing inside."""
    with _Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            _settle(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    COMMITTED[0] += 1


def write_one(engine: Engine, statement: Executable) -> int:
    """Run one write statement, atomic by itself; the rows it changed.

    On PostgreSQL in autocommit (the statement is its own transaction: no BEGIN and COMMIT
    round trips), on SQLite in a transaction as every write (BEGIN IMMEDIATE). For the
    one-statement writes a dispatcher and a notifier make around each effect and message:
    marking it done, sent, failed or given back."""
    bind = engine
    if engine.dialect.name == "postgresql":
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    with bind.connect() as connection:
        changed = connection.execute(statement)
        connection.commit()
    COMMITTED[0] += 1
    return int(changed.rowcount)
