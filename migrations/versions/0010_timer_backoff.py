"""timers: attempts and next_attempt_at (a timer whose firing fails backs off instead of blocking
the others); outbound_messages.kind wide enough for every BPMN event definition's class name

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('timers') as b:
        b.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        b.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbound_messages') as b:
        b.alter_column('kind', existing_type=sa.String(16), type_=sa.String(64), existing_nullable=False)


def downgrade():
    op.execute("UPDATE outbound_messages SET kind = substr(kind, 1, 16) WHERE length(kind) > 16")
    with op.batch_alter_table('outbound_messages') as b:
        b.alter_column('kind', existing_type=sa.String(64), type_=sa.String(16), existing_nullable=False)
    with op.batch_alter_table('timers') as b:
        b.drop_column('next_attempt_at')
        b.drop_column('attempts')
