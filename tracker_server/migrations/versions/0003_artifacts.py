"""artifacts as server objects: collections, versions, aliases, usage

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:55:32.475728
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifact_collections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_artifact_collections_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_collections'))
    )
    with op.batch_alter_table('artifact_collections', schema=None) as batch_op:
        batch_op.create_index('uq_artifact_collections_project_name', ['project_id', 'name'], unique=True)

    op.create_table('artifact_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('file_count', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('meta', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['artifact_collections.id'], name=op.f('fk_artifact_versions_collection_id_artifact_collections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['runs.id'], name=op.f('fk_artifact_versions_created_by_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_versions'))
    )
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_versions_collection_digest', ['collection_id', 'digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_versions_created_by'), ['created_by'], unique=False)
        batch_op.create_index('uq_artifact_versions_collection_version', ['collection_id', 'version'], unique=True)

    op.create_table('artifact_aliases',
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=128), nullable=False),
    sa.Column('version_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['artifact_collections.id'], name=op.f('fk_artifact_aliases_collection_id_artifact_collections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_pk'], ['artifact_versions.id'], name=op.f('fk_artifact_aliases_version_pk_artifact_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collection_id', 'alias', name=op.f('pk_artifact_aliases'))
    )
    with op.batch_alter_table('artifact_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_aliases_version_pk'), ['version_pk'], unique=False)

    op.create_table('artifact_usage',
    sa.Column('version_pk', sa.Integer(), nullable=False),
    sa.Column('run_pk', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], name=op.f('fk_artifact_usage_run_pk_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_pk'], ['artifact_versions.id'], name=op.f('fk_artifact_usage_version_pk_artifact_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_pk', 'run_pk', name=op.f('pk_artifact_usage'))
    )
    with op.batch_alter_table('artifact_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_usage_run_pk'), ['run_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('artifact_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_usage_run_pk'))

    op.drop_table('artifact_usage')
    with op.batch_alter_table('artifact_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_aliases_version_pk'))

    op.drop_table('artifact_aliases')
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_artifact_versions_collection_version')
        batch_op.drop_index(batch_op.f('ix_artifact_versions_created_by'))
        batch_op.drop_index('ix_artifact_versions_collection_digest')

    op.drop_table('artifact_versions')
    with op.batch_alter_table('artifact_collections', schema=None) as batch_op:
        batch_op.drop_index('uq_artifact_collections_project_name')

    op.drop_table('artifact_collections')
