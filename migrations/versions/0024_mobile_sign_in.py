"""mobile identity (issue 17): QR / one-time-link sign-in of a phone confirmed by a trusted session.

trusted_devices: one row per signed-in browser session (its id is in the session cookie), so that one
session can be ended on its own; mobile_sign_in_requests: a phone's request to be signed in.

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'trusted_devices',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('user_agent', sa.String(length=300), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('session_version', sa.Integer(), nullable=False),
        sa.Column('via_request', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trusted_devices_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_devices')),
    )
    op.create_index(op.f('ix_trusted_devices_user_id'), 'trusted_devices', ['user_id'])
    op.create_table(
        'mobile_sign_in_requests',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('origin_device', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('phone_binding', sa.String(length=64), nullable=True),
        sa.Column('phone_user_agent', sa.String(length=300), nullable=False),
        sa.Column('phone_ip', sa.String(length=64), nullable=False),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('decided_by_device', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mobile_sign_in_requests_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mobile_sign_in_requests')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_mobile_sign_in_requests_token_hash')),
    )
    op.create_index('ix_mobile_sign_in_requests_user_status', 'mobile_sign_in_requests', ['user_id', 'status'])


def downgrade():
    op.drop_index('ix_mobile_sign_in_requests_user_status', table_name='mobile_sign_in_requests')
    op.drop_table('mobile_sign_in_requests')
    op.drop_index(op.f('ix_trusted_devices_user_id'), table_name='trusted_devices')
    op.drop_table('trusted_devices')
