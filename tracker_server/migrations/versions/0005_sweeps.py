"""sweeps: a project's sweeps and the trials their claim route handed out

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_GRID_WHERE = "grid_index IS NOT NULL AND state != 'crashed'"


def upgrade() -> None:
    op.create_table('sweeps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('sweep_id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_sweeps_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sweeps'))
    )
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.create_index('uq_sweeps_project_sweep', ['project_id', 'sweep_id'], unique=True)

    op.create_table('sweep_trials',
    sa.Column('sweep_pk', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('grid_index', sa.Integer(), nullable=True),
    sa.Column('config_key', sa.String(length=64), nullable=True),
    sa.Column('optuna_trial_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('agent', sa.Text(), nullable=False),
    sa.Column('claim', sa.String(length=64), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('seen_at', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['sweep_pk'], ['sweeps.id'], name=op.f('fk_sweep_trials_sweep_pk_sweeps'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sweep_pk', 'number', name=op.f('pk_sweep_trials'))
    )
    with op.batch_alter_table('sweep_trials', schema=None) as batch_op:
        batch_op.create_index('uq_sweep_trials_grid', ['sweep_pk', 'grid_index'], unique=True,
                              sqlite_where=sa.text(_GRID_WHERE), postgresql_where=sa.text(_GRID_WHERE))
        batch_op.create_index('uq_sweep_trials_claim', ['sweep_pk', 'claim'], unique=True)
        batch_op.create_index('uq_sweep_trials_key', ['sweep_pk', 'config_key'], unique=True)


def downgrade() -> None:
    op.drop_table('sweep_trials')
    op.drop_table('sweeps')
