"""bid versions: the priced deal frozen and numbered; approvals and documents belong to one

A bid version (`bidversion`) is a numbered snapshot of the priced deal (sites, the quotes
with the site specification each priced, prices, answers, terms and deviations), recorded
when that content changes; a submitted version and its files are never changed again.
Approvals name the version they were asked for, documents the version they render.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bidversion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('proposal_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('opportunity_id', 'number')
    )
    with op.batch_alter_table('bidversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bidversion_opportunity_id'), ['opportunity_id'], unique=False)

    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_approval_version_id'), ['version_id'], unique=False)
        batch_op.create_foreign_key('fk_approval_version_id_bidversion', 'bidversion', ['version_id'], ['id'])

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_document_version_id'), ['version_id'], unique=False)
        batch_op.create_foreign_key('fk_document_version_id_bidversion', 'bidversion', ['version_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_constraint('fk_document_version_id_bidversion', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_document_version_id'))
        batch_op.drop_column('version_id')

    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_constraint('fk_approval_version_id_bidversion', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_approval_version_id'))
        batch_op.drop_column('version_id')

    with op.batch_alter_table('bidversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bidversion_opportunity_id'))

    op.drop_table('bidversion')
