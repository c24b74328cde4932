"""Docking (issue 15): unified identity: the remote identities linked to local accounts.

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'docking_identities',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('provider', sa.String(16), nullable=False),
        sa.Column('subject', sa.String(255), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('level', sa.String(32), nullable=False, server_default=''),
        sa.Column('origin', sa.String(16), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sign_ins', sa.Integer(), nullable=False, server_default='1'),
        sa.UniqueConstraint('provider', 'subject', name='uq_docking_identities_subject'))
    op.create_index('ix_docking_identities_user', 'docking_identities', ['user_id'])


def downgrade():
    op.drop_index('ix_docking_identities_user', table_name='docking_identities')
    op.drop_table('docking_identities')
