"""where each Slack message went, so that it can be updated after its decision

An outbox row that was posted to Slack keeps the channel and timestamp Slack gave the
message (`slack_channel`, `slack_ts`); once the decision it asked for is made, the notifier
replaces its buttons by who decided what (chat.update) and marks the row `settled_at`.
Rows posted before this revision have no timestamp and are left as they are.

Revision ID: 0019
Revises: 0012
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0019'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('slack_channel', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(sa.Column('slack_ts', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(
            sa.Column('settled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('settled_at')
        batch_op.drop_column('slack_ts')
        batch_op.drop_column('slack_channel')
