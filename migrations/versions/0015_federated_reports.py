"""Supervision across levels (issue 14 point 5): federated_case_reports, the cases of the lower
levels as their platforms report them (one row per reporting region and case number, the newest
report kept), for the supervision pages of the levels above.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'federated_case_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('case_no', sa.String(length=50), nullable=False),
        sa.Column('via', sa.String(length=6), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=64), nullable=False),
        sa.Column('basic_code', sa.String(length=20), nullable=False),
        sa.Column('matter_name', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('label', sa.String(length=50), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('statutory_due', sa.Date(), nullable=True),
        sa.Column('promised_due', sa.Date(), nullable=True),
        sa.Column('clock_state', sa.String(length=16), nullable=False),
        sa.Column('overdue', sa.Boolean(), nullable=False),
        sa.Column('origin', sa.JSON(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_federated_case_reports')),
        sa.UniqueConstraint('region', 'case_no', name='uq_federated_case_reports_case'),
    )
    op.create_index('ix_federated_case_reports_due', 'federated_case_reports', ['region', 'statutory_due'])


def downgrade():
    op.drop_index('ix_federated_case_reports_due', table_name='federated_case_reports')
    op.drop_table('federated_case_reports')
