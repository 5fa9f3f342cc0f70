"""partial indexes for the outbox's unsent rows and unsettled decision messages

Every delivery asks for the messages not yet sent, and for the posted decision messages not
yet settled; both looked through every message ever sent (a sequential scan growing with
every bid). Two partial indexes hold only the rows those questions are about.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

UNSENT = sa.text("sent_at IS NULL")
UNSETTLED = sa.text("settled_at IS NULL AND slack_ts IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        'ix_outboxmessage_unsent',
        'outboxmessage',
        ['id'],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )
    op.create_index(
        'ix_outboxmessage_unsettled',
        'outboxmessage',
        ['opportunity_id'],
        postgresql_where=UNSETTLED,
        sqlite_where=UNSETTLED,
    )


def downgrade() -> None:
    op.drop_index('ix_outboxmessage_unsettled', table_name='outboxmessage')
    op.drop_index('ix_outboxmessage_unsent', table_name='outboxmessage')
