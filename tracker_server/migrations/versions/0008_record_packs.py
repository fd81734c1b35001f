"""record packs: a run's consecutive log records stored as one row a stretch, not one row a record

Records already stored stay where they are (readers take both tables in seq order). On PostgreSQL a
pack's body is stored EXTERNAL: compressing a quarter of a megabyte on every batch cost more CPU than
the rest of its write. Downgrading unpacks every pack back into one ``records`` row a record.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('record_packs',
    sa.Column('run_pk', sa.Integer(), nullable=False),
    sa.Column('first_seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], name=op.f('fk_record_packs_run_pk_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_pk', 'first_seq', name=op.f('pk_record_packs'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE record_packs ALTER COLUMN body SET STORAGE EXTERNAL')


def downgrade() -> None:
    bind = op.get_bind()
    packs = sa.table('record_packs', sa.column('run_pk'), sa.column('first_seq'), sa.column('body'))
    records = sa.table('records', sa.column('run_pk'), sa.column('seq'), sa.column('type'), sa.column('body'))
    for run_pk, first_seq, body in bind.execute(sa.select(packs.c.run_pk, packs.c.first_seq, packs.c.body)).all():
        bind.execute(sa.insert(records), [{"run_pk": run_pk, "seq": first_seq + index, "type": "log", "body": line}
                                          for index, line in enumerate(bytes(body).split(b"\n"))])
    op.drop_table('record_packs')
