"""SMS delivery through Twilio, verification codes, rate limits

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rate_buckets',
        sa.Column('key', sa.String(200), primary_key=True),
        sa.Column('hits', sa.JSON(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False))
    op.create_index('ix_rate_buckets_expires_at', 'rate_buckets', ['expires_at'])
    op.create_table(
        'sms_codes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('purpose', sa.String(16), nullable=False),
        sa.Column('subject', sa.String(64), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_sms_codes_lookup', 'sms_codes', ['phone', 'purpose', 'subject', 'status'])
    with op.batch_alter_table('notifications') as b:
        b.add_column(sa.Column('provider_sid', sa.String(64), nullable=True))
        b.add_column(sa.Column('provider_status', sa.String(32), nullable=True))
        b.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        b.add_column(sa.Column('error_code', sa.String(16), nullable=True))
        b.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_notifications_due', 'notifications', ['channel', 'status', 'next_attempt_at'])
    op.create_index('ix_notifications_provider_sid', 'notifications', ['provider_sid'])
    op.create_index('ix_notifications_recipient', 'notifications', ['recipient'])


def downgrade():
    op.drop_index('ix_notifications_recipient', 'notifications')
    op.drop_index('ix_notifications_provider_sid', 'notifications')
    op.drop_index('ix_notifications_due', 'notifications')
    with op.batch_alter_table('notifications') as b:
        b.drop_column('claimed_until')
        b.drop_column('error_code')
        b.drop_column('last_error')
        b.drop_column('next_attempt_at')
        b.drop_column('provider_status')
        b.drop_column('provider_sid')
    op.drop_index('ix_sms_codes_lookup', 'sms_codes')
    op.drop_table('sms_codes')
    op.drop_index('ix_rate_buckets_expires_at', 'rate_buckets')
    op.drop_table('rate_buckets')
