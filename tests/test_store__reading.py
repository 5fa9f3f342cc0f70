"""A read-only block (`orchestrator.store.db.reading`) ends without undoing the
connection's prepared statements on PostgreSQL, and writes nothing on either database.

psycopg forgets every statement it prepared on a connection at a ROLLBACK. A bid's steps read
in some 200 such blocks; when each ended with a ROLLBACK, PostgreSQL parsed and planned the
same queries again and again (a third of its CPU for a bid).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from orchestrator.context import Context
from orchestrator.store.db import reading
from orchestrator.store.models import Opportunity
from tests.factories import new_bid


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_read_on_postgresql_keeps_the_statements_the_connection_prepared(ctx: Context) -> None:
    ref = new_bid(ctx, 0)
    for _ in range(8):  # psycopg prepares a statement at its fifth use
        with reading(ctx.engine) as session:
            assert session.exec(select(Opportunity)).first() is not None
    with reading(ctx.engine) as session:  # the same pooled connection as the reads above
        prepared = session.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%opportunity%'")
        ).scalar_one()
    assert prepared >= 1, "the connection forgot what it prepared"
    with reading(ctx.engine) as session:  # the row read stays readable after the block
        opportunity = session.exec(select(Opportunity)).one()
    assert opportunity.ref == ref


def test_a_change_made_inside_a_read_is_never_written(ctx: Context) -> None:
    ref = new_bid(ctx, 0)
    with reading(ctx.engine) as session:
        opportunity = session.exec(select(Opportunity)).one()
        opportunity.title = "changed by mistake"
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity)).one().title != "changed by mistake"
    assert opportunity.ref == ref


def test_an_error_inside_a_read_rolls_it_back_and_the_connection_is_usable(ctx: Context) -> None:
    new_bid(ctx, 0)
    with pytest.raises(ZeroDivisionError), reading(ctx.engine) as session:
        session.exec(select(Opportunity)).one()
        _ = 1 / 0
    with reading(ctx.engine) as session:
        assert session.exec(select(Opportunity)).one() is not None
