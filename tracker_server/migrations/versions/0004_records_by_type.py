"""records by type: a partial index on a run's records that are not rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_run_type_seq', ['run_pk', 'type', 'seq'], unique=False,
                              sqlite_where=sa.text("type != 'log'"), postgresql_where=sa.text("type != 'log'"))


def downgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_run_type_seq', sqlite_where=sa.text("type != 'log'"),
                            postgresql_where=sa.text("type != 'log'"))
