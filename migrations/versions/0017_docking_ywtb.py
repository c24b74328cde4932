"""Docking (issue 15): the 一张网: applications received from its unified entry, ratings received from its evaluation system.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ywtb_applications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial_no', sa.String(length=36), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('matter_code', sa.String(length=40), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_ywtb_applications_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ywtb_applications')),
        sa.UniqueConstraint('serial_no', name=op.f('uq_ywtb_applications_serial_no')),
        sa.UniqueConstraint('case_id', name=op.f('uq_ywtb_applications_case_id')),
    )
    op.create_table(
        'ywtb_ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rating_id', sa.String(length=36), nullable=False),
        sa.Column('evaluation_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('level_sent', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_ywtb_ratings_evaluation_id_evaluations')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_ywtb_ratings_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ywtb_ratings')),
        sa.UniqueConstraint('rating_id', name=op.f('uq_ywtb_ratings_rating_id')),
        sa.UniqueConstraint('evaluation_id', name=op.f('uq_ywtb_ratings_evaluation_id')),
    )
    op.create_index('ix_ywtb_ratings_case_id', 'ywtb_ratings', ['case_id'])


def downgrade():
    op.drop_index('ix_ywtb_ratings_case_id', table_name='ywtb_ratings')
    op.drop_table('ywtb_ratings')
    op.drop_table('ywtb_applications')
