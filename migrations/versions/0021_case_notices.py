"""The written notices of acceptance / refusal to accept (受理通知书 / 不予受理决定书, 行政许可法 art. 32):
case_notices, one row per case and kind, the notice's text as issued.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('notice_no', sa.String(length=64), nullable=False),
        sa.Column('case_no', sa.String(length=50), nullable=False),
        sa.Column('matter_name', sa.String(length=200), nullable=False),
        sa.Column('applicant_name', sa.String(length=200), nullable=False),
        sa.Column('applicant_code', sa.String(length=18), nullable=True),
        sa.Column('organ', sa.String(length=200), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('issued_by', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notices_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notices')),
        sa.UniqueConstraint('case_id', 'kind', name='uq_case_notices_case_kind'),
    )
    op.create_index(op.f('ix_case_notices_case_id'), 'case_notices', ['case_id'])


def downgrade():
    op.drop_index(op.f('ix_case_notices_case_id'), table_name='case_notices')
    op.drop_table('case_notices')
