"""sites keep what the customer asked: the design fields we changed, and why

`site.asked` holds the customer's values of the design fields a `bid sites update` changed
(empty: built as asked); `site.redesign_reason` the reason given. The technical approver
reads the design against the customer's ask from them.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0015'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asked', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('redesign_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('redesign_reason')
        batch_op.drop_column('asked')
