"""quotes keep the spec they priced; QRF amendments and cancellations; submission; hold

A quote records the site specification it priced (`quote.spec`; NULL for quotes recorded
before, taken as their site's current spec). A quote request may amend an earlier one
(`amends`), withdraw lines (`withdrawn_site_ids`) and be cancelled (`cancelled_at`,
`cancel_reason`). An opportunity records how its offer went out (`submitted_at`,
`submitted_by`, `submission_channel`, `submission_reference`) and whether it is on hold
(`held_at`, `hold_reason`, `hold_until`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0013'
down_revision = '0015'
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spec', sa.JSON(), nullable=True))
    with op.batch_alter_table('quoterequest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amends', _TEXT(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_site_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', _TEXT(), nullable=True))
    request = sa.table('quoterequest', sa.column('withdrawn_site_ids', sa.JSON))
    op.get_bind().execute(request.update().values(withdrawn_site_ids=[]))
    with op.batch_alter_table('quoterequest', schema=None) as batch_op:
        batch_op.alter_column('withdrawn_site_ids', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('submitted_by', _TEXT(), nullable=True))
        batch_op.add_column(sa.Column('submission_channel', _TEXT(), nullable=True))
        batch_op.add_column(sa.Column('submission_reference', _TEXT(), nullable=True))
        batch_op.add_column(sa.Column('held_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('hold_reason', _TEXT(), nullable=True))
        batch_op.add_column(sa.Column('hold_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        for name in (
            'hold_until',
            'hold_reason',
            'held_at',
            'submission_reference',
            'submission_channel',
            'submitted_by',
            'submitted_at',
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table('quoterequest', schema=None) as batch_op:
        for name in ('cancel_reason', 'cancelled_at', 'withdrawn_site_ids', 'amends'):
            batch_op.drop_column(name)
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_column('spec')
