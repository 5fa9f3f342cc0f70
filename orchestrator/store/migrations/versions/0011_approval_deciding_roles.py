"""who may decide an approval, stored on it; the summary it was shown with

An approval keeps the roles that may decide it (`deciding_roles`), named by the governance
table when it was requested, and the fingerprint of the summary its approvers were shown
(`summary_fingerprint`). Existing approvals take their roles from their bid's last
governance decision record (the place later code no longer reads), else the area's own
name; their fingerprint stays empty (their Slack buttons carry no request id and are
answered with the current request).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 14:30:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def _outputs(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # a JSON column read through plain text on some drivers
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def upgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deciding_roles', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('summary_fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )

    connection = op.get_bind()
    approval = sa.table(
        'approval',
        sa.column('id', sa.Integer),
        sa.column('opportunity_id', sa.Integer),
        sa.column('area', sa.String),
        sa.column('deciding_roles', sa.JSON),
    )
    record = sa.table(
        'decisionrecord',
        sa.column('id', sa.Integer),
        sa.column('opportunity_id', sa.Integer),
        sa.column('table_name', sa.String),
        sa.column('outputs', sa.JSON),
    )
    latest: dict[int, dict[str, Any]] = {}
    for opportunity_id, outputs in connection.execute(
        sa.select(record.c.opportunity_id, record.c.outputs)
        .where(record.c.table_name == 'governance')
        .order_by(record.c.id)
    ):
        latest[opportunity_id] = _outputs(outputs)  # the last one wins
    for approval_id, opportunity_id, area in connection.execute(
        sa.select(approval.c.id, approval.c.opportunity_id, approval.c.area)
    ).all():
        named = (latest.get(opportunity_id, {}).get('approver_roles') or {}).get(area)
        roles = [str(r) for r in named] if isinstance(named, list) and named else [area]
        connection.execute(
            approval.update().where(approval.c.id == approval_id).values(deciding_roles=roles)
        )

    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.alter_column('deciding_roles', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_column('summary_fingerprint')
        batch_op.drop_column('deciding_roles')
