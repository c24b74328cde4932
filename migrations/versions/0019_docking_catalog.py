"""Docking (issue 15): the matter catalog: entries pulled from the 一张网 and their differences to review.

docking_catalog_pulls (each pull, its counts and refused entries), docking_catalog_cursors (per
matter, the next incremental pull's since), docking_catalog_entries (each well-formed entry, mapped,
with its differences to the deployed version and the designers' decision).

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'docking_catalog_pulls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('matters', sa.Integer(), nullable=False),
        sa.Column('received', sa.Integer(), nullable=False),
        sa.Column('stored', sa.Integer(), nullable=False),
        sa.Column('differing', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.Column('error_code', sa.String(length=48), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('problems', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_docking_catalog_pulls')),
    )
    op.create_table(
        'docking_catalog_cursors',
        sa.Column('process_id', sa.String(length=64), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('process_id', name=op.f('pk_docking_catalog_cursors')),
    )
    op.create_table(
        'docking_catalog_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pull_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=64), nullable=False),
        sa.Column('remote_id', sa.String(length=100), nullable=False),
        sa.Column('remote_updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=False),
        sa.Column('mapped', sa.JSON(), nullable=False),
        sa.Column('base_version_id', sa.Integer(), nullable=True),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('diff', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('new_version', sa.Integer(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['pull_id'], ['docking_catalog_pulls.id'],
                                name=op.f('fk_docking_catalog_entries_pull_id_docking_catalog_pulls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_docking_catalog_entries')),
        sa.UniqueConstraint('process_id', 'content_hash', name='uq_docking_catalog_entries_content'),
    )
    op.create_index('ix_docking_catalog_entries_status', 'docking_catalog_entries', ['status', 'process_id'])


def downgrade():
    op.drop_index('ix_docking_catalog_entries_status', table_name='docking_catalog_entries')
    op.drop_table('docking_catalog_entries')
    op.drop_table('docking_catalog_cursors')
    op.drop_table('docking_catalog_pulls')
