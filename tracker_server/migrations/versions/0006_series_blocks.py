"""series blocks: each history chunk gains min/max summaries of its points, 64 at a time

A chart of a long history asks for buckets; with the summaries the server reads about a thirtieth
of the bytes. Existing chunks get theirs here, a batch of chunks at a time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

import numpy as np
import orjson
import sqlalchemy as sa
from alembic import op

from tracker_server._series_blocks import summarize

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_BATCH = 200


def upgrade() -> None:
    with op.batch_alter_table('series_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocks', sa.LargeBinary(), nullable=True))
    chunks = sa.table('series_chunks', sa.column('run_pk'), sa.column('key'), sa.column('chunk'),
                      sa.column('steps', sa.LargeBinary), sa.column('values', sa.LargeBinary),
                      sa.column('extra'), sa.column('blocks', sa.LargeBinary))
    bind = op.get_bind()
    while True:
        rows = bind.execute(sa.select(chunks).where(chunks.c.blocks.is_(None)).limit(_BATCH)).all()
        if not rows:
            break
        for row in rows:
            steps, values = np.frombuffer(row.steps, "<i8"), np.frombuffer(row.values, "<f8")
            numeric = np.ones(len(steps), bool)
            if row.extra:
                numeric[[int(i) for i in orjson.loads(row.extra)]] = False
            bind.execute(chunks.update().where(chunks.c.run_pk == row.run_pk, chunks.c.key == row.key,
                                               chunks.c.chunk == row.chunk)
                         .values(blocks=summarize(steps, values, numeric)))


def downgrade() -> None:
    with op.batch_alter_table('series_chunks', schema=None) as batch_op:
        batch_op.drop_column('blocks')
