"""records by type: a partial index on a run's records that are not rows; series arrays stored uncompressed

On PostgreSQL the packed step/time/value arrays of ``series_chunks`` are stored EXTERNAL: they are random
doubles that do not compress, and each batch rewrites its keys' last chunk, so trying to compress them
on every write was wasted work.

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
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE series_chunks ALTER COLUMN steps SET STORAGE EXTERNAL, '
                   'ALTER COLUMN times SET STORAGE EXTERNAL, ALTER COLUMN "values" SET STORAGE EXTERNAL')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE series_chunks ALTER COLUMN steps SET STORAGE EXTENDED, '
                   'ALTER COLUMN times SET STORAGE EXTENDED, ALTER COLUMN "values" SET STORAGE EXTENDED')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_run_type_seq', sqlite_where=sa.text("type != 'log'"),
                            postgresql_where=sa.text("type != 'log'"))
