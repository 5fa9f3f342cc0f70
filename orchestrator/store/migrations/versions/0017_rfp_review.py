"""the questionnaire's review workflow: owner, state, draft, review; library owner roles

A requirement gets the person who answers it (`owner`), a state (open, draft, answered,
reviewed), the draft its owner starts from, whether its compliance was confirmed by a person,
and its review. Existing requirements with an answer and a compliance are `answered` (their
compliance was recorded by a person: confirmed); the others `open`. A library answer gets the
role that keeps it true (`owner_role`).

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-06 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('requirement', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('state', sa.String(), nullable=False, server_default='open')
        )
        batch_op.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('draft', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('draft_library', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(sa.Column('draft_score', sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                'compliance_confirmed', sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch_op.add_column(
            sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('review_note', sa.Text(), nullable=True))
    requirement = sa.table(
        'requirement',
        sa.column('state', sa.String),
        sa.column('answer', sa.Text),
        sa.column('compliance', sa.Text),
    )
    op.get_bind().execute(
        requirement.update()
        .where(requirement.c.answer.is_not(None), requirement.c.compliance.is_not(None))
        .values(state='answered')
    )
    with op.batch_alter_table('libraryanswer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('owner_role', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('libraryanswer', schema=None) as batch_op:
        batch_op.drop_column('owner_role')
    with op.batch_alter_table('requirement', schema=None) as batch_op:
        for name in (
            'review_note',
            'reviewed_at',
            'reviewed_by',
            'compliance_confirmed',
            'draft_score',
            'draft',
            'draft_library',
            'owner',
            'state',
        ):
            batch_op.drop_column(name)
