"""one-time notices (一次性告知 / 补正)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "correction_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("applicant_task_id", sa.String(36), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("procedure_id", sa.Integer(), sa.ForeignKey("special_procedures.id"), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("express_no", sa.String(40), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_correction_requests_case_id", "correction_requests", ["case_id"])
    op.create_index("uq_correction_requests_open", "correction_requests", ["case_id"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade():
    op.drop_index("uq_correction_requests_open", table_name="correction_requests")
    op.drop_index("ix_correction_requests_case_id", table_name="correction_requests")
    op.drop_table("correction_requests")
