"""The exchange with other systems: outbox_messages (transactional outbox, delivered by the
scheduler's sender), outbox_links (sequence per link), inbox_messages (each received message applied
once), inbox_refusals (what was refused, for operators) and federation_peers (the platforms of the
other levels of the 省市县 network)

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=True),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('peer', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('order_key', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('reply', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_outbox_messages_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
        sa.UniqueConstraint('message_id', name=op.f('uq_outbox_messages_message_id')),
        sa.UniqueConstraint('key', name=op.f('uq_outbox_messages_key')),
        sa.UniqueConstraint('channel', 'peer', 'seq', name='uq_outbox_messages_link_seq'),
    )
    op.create_index('ix_outbox_messages_case_id', 'outbox_messages', ['case_id'])
    op.create_index('ix_outbox_messages_status_due', 'outbox_messages', ['status', 'next_attempt_at'])
    op.create_index('ix_outbox_messages_order', 'outbox_messages', ['channel', 'peer', 'order_key', 'id'])
    op.create_table(
        'outbox_links',
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('peer', sa.String(length=64), nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('channel', 'peer', name=op.f('pk_outbox_links')),
    )
    op.create_table(
        'inbox_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('peer', sa.String(length=64), nullable=False),
        sa.Column('message_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reply', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_inbox_messages_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_messages')),
        sa.UniqueConstraint('key', name=op.f('uq_inbox_messages_key')),
        sa.UniqueConstraint('channel', 'peer', 'seq', name='uq_inbox_messages_link_seq'),
    )
    op.create_index('ix_inbox_messages_case_id', 'inbox_messages', ['case_id'])
    op.create_table(
        'inbox_refusals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('peer', sa.String(length=64), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('code', sa.String(length=48), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=False),
        sa.Column('verified', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_refusals')),
    )
    op.create_index('ix_inbox_refusals_at', 'inbox_refusals', ['at'])
    op.create_table(
        'federation_peers',
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('level', sa.String(length=8), nullable=False),
        sa.Column('base_url', sa.String(length=300), nullable=False),
        sa.Column('public_key', sa.String(length=200), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_ping_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_ping_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('region', name=op.f('pk_federation_peers')),
    )


def downgrade():
    op.drop_table('federation_peers')
    op.drop_index('ix_inbox_refusals_at', table_name='inbox_refusals')
    op.drop_table('inbox_refusals')
    op.drop_index('ix_inbox_messages_case_id', table_name='inbox_messages')
    op.drop_table('inbox_messages')
    op.drop_table('outbox_links')
    op.drop_index('ix_outbox_messages_order', table_name='outbox_messages')
    op.drop_index('ix_outbox_messages_status_due', table_name='outbox_messages')
    op.drop_index('ix_outbox_messages_case_id', table_name='outbox_messages')
    op.drop_table('outbox_messages')
