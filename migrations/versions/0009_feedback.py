"""evaluations (好差评), rectifications, consultations, complaints, disclosure

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        'evaluations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('process_id', sa.String(64), nullable=False),
        sa.Column('applicant_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('indicators', sa.JSON(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('channel', sa.String(2), nullable=False),
        sa.Column('named', sa.Boolean(), nullable=False),
        _ts('created_at'),
        sa.UniqueConstraint('case_id', name='uq_evaluations_case'),
        sa.CheckConstraint('level BETWEEN 1 AND 5', name='ck_evaluations_level'))
    op.create_index('ix_evaluations_applicant_id', 'evaluations', ['applicant_id'])

    op.create_table(
        'rectifications',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('evaluation_id', sa.Integer(), sa.ForeignKey('evaluations.id'), nullable=False, unique=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('department', sa.String(64), nullable=False),
        sa.Column('region_code', sa.String(6), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('verify_note', sa.Text(), nullable=True),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('callback_result', sa.String(16), nullable=True),
        sa.Column('callback_note', sa.Text(), nullable=True),
        sa.Column('appeal_reason', sa.Text(), nullable=True),
        sa.Column('appeal_from', sa.String(16), nullable=True),
        sa.Column('appeal_decision', sa.String(16), nullable=True),
        sa.Column('appeal_note', sa.Text(), nullable=True),
        _ts('created_at'), _ts('replied_at'), _ts('closed_at'), _ts('updated_at'))
    op.create_index('ix_rectifications_case_id', 'rectifications', ['case_id'])
    op.create_index('ix_rectifications_dept', 'rectifications', ['department', 'region_code', 'status'])

    op.create_table(
        'questions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('category', sa.String(12), nullable=False),
        sa.Column('process_id', sa.String(64), nullable=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=True),
        sa.Column('parent_id', sa.Integer(), sa.ForeignKey('questions.id'), nullable=True),
        sa.Column('asker_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('subject', sa.String(200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('route_group', sa.String(64), nullable=False),
        sa.Column('region_code', sa.String(6), nullable=False),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('extended_days', sa.Integer(), nullable=False),
        sa.Column('extension_reason', sa.Text(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_by', sa.String(64), nullable=True),
        _ts('answered_at'),
        sa.Column('overdue_days', sa.Integer(), nullable=False),
        sa.Column('rating', sa.String(12), nullable=True),
        _ts('rated_at'), _ts('created_at'))
    op.create_index('ix_questions_asker_id', 'questions', ['asker_id'])
    op.create_index('ix_questions_route', 'questions', ['route_group', 'region_code', 'status'])

    op.create_table(
        'disclosures',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('replaces_id', sa.Integer(), sa.ForeignKey('disclosures.id'), nullable=True),
        sa.Column('document_no', sa.String(100), nullable=True),
        sa.Column('project_name', sa.String(200), nullable=False),
        sa.Column('category', sa.String(200), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('result', sa.String(12), nullable=False),
        sa.Column('applicant_name', sa.String(200), nullable=False),
        sa.Column('applicant_code', sa.String(18), nullable=True),
        sa.Column('agency', sa.String(200), nullable=False),
        sa.Column('department', sa.String(64), nullable=False),
        sa.Column('region_code', sa.String(6), nullable=False),
        sa.Column('decision_date', sa.Date(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('status', sa.String(12), nullable=False),
        _ts('created_at'), _ts('published_at'),
        sa.Column('published_by', sa.String(64), nullable=True),
        _ts('retracted_at'),
        sa.Column('retracted_by', sa.String(64), nullable=True),
        sa.Column('retract_reason', sa.Text(), nullable=True))
    op.create_index('ix_disclosures_case_id', 'disclosures', ['case_id'])
    op.create_index('ix_disclosures_status_date', 'disclosures', ['status', 'decision_date'])

    op.create_table(
        'feedback_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('item_kind', sa.String(16), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('action', sa.String(24), nullable=False),
        sa.Column('from_status', sa.String(16), nullable=True),
        sa.Column('to_status', sa.String(16), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        _ts('at'))
    op.create_index('ix_feedback_events_item', 'feedback_events', ['item_kind', 'item_id'])


def downgrade():
    op.drop_table('feedback_events')
    op.drop_table('disclosures')
    op.drop_table('questions')
    op.drop_table('rectifications')
    op.drop_table('evaluations')
