"""intake findings: an offered alternative per site, and quotes waiting as outliers

A site's `asked_access` and `asked_bandwidth_mbps` keep what the customer asked once the
solution consultant proposed another design (`bid design propose`), with its reason; a quote's
`outlier` says why its cost waits for `bid quotes accept|requote`.

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-06 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0016'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('site') as batch:
        batch.add_column(sa.Column('asked_access', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column('asked_bandwidth_mbps', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('proposal_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('quote') as batch:
        batch.add_column(sa.Column('outlier', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quote') as batch:
        batch.drop_column('outlier')
    with op.batch_alter_table('site') as batch:
        batch.drop_column('proposal_reason')
        batch.drop_column('asked_bandwidth_mbps')
        batch.drop_column('asked_access')
