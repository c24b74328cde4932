"""paper-mail intake, receipts, results, progress query

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_intakes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', name='fk_mail_intakes_case_id_cases'),
                  nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('courier', sa.String(40), nullable=False),
        sa.Column('tracking_no', sa.String(40), nullable=False),
        sa.Column('slip_file_id', sa.Integer(),
                  sa.ForeignKey('case_files.id', name='fk_mail_intakes_slip_file_id_case_files'), nullable=False),
        sa.Column('list_file_id', sa.Integer(),
                  sa.ForeignKey('case_files.id', name='fk_mail_intakes_list_file_id_case_files'), nullable=False),
        sa.Column('commitment_file_id', sa.Integer(),
                  sa.ForeignKey('case_files.id', name='fk_mail_intakes_commitment_file_id_case_files'),
                  nullable=False),
        sa.Column('materials', sa.JSON(), nullable=False),
        sa.Column('submitted_by', sa.String(64), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refuse_reason', sa.Text(), nullable=True),
        sa.Column('receipt_file_id', sa.Integer(),
                  sa.ForeignKey('case_files.id', name='fk_mail_intakes_receipt_file_id_case_files'), nullable=True))
    op.create_index('ix_mail_intakes_case_id', 'mail_intakes', ['case_id'])
    op.create_index('ix_mail_intakes_case_status', 'mail_intakes', ['case_id', 'status'])
    op.create_table(
        'case_results',
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', name='fk_case_results_case_id_cases'),
                  primary_key=True),
        sa.Column('courier', sa.String(40), nullable=False),
        sa.Column('tracking_no', sa.String(40), nullable=False),
        sa.Column('recorded_by', sa.String(64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_table('case_results')
    op.drop_index('ix_mail_intakes_case_status', table_name='mail_intakes')
    op.drop_index('ix_mail_intakes_case_id', table_name='mail_intakes')
    op.drop_table('mail_intakes')
