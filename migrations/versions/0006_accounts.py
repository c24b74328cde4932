"""applicant accounts, profile, materials library, drafts

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'applicant_profiles',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('credit_code', sa.String(18), nullable=True),
        sa.Column('id_number', sa.String(18), nullable=True),
        sa.Column('legal_representative', sa.String(50), nullable=True),
        sa.Column('contact_person', sa.String(50), nullable=True),
        sa.Column('mobile', sa.String(20), nullable=False),
        sa.Column('email', sa.String(120), nullable=True),
        sa.Column('address', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('credit_code', name='uq_applicant_profiles_credit_code'),
        sa.UniqueConstraint('id_number', name='uq_applicant_profiles_id_number'),
        sa.UniqueConstraint('mobile', name='uq_applicant_profiles_mobile'))
    op.create_table(
        'library_items',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('material', sa.String(200), nullable=False),
        sa.Column('filename', sa.String(200), nullable=False),
        sa.Column('content_type', sa.String(64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('storage_key', sa.String(200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_library_items_user_material', 'library_items', ['user_id', 'material'])
    with op.batch_alter_table('case_files') as b:
        b.add_column(sa.Column('material', sa.String(200), nullable=True))


def downgrade():
    with op.batch_alter_table('case_files') as b:
        b.drop_column('material')
    op.drop_index('ix_library_items_user_material', table_name='library_items')
    op.drop_table('library_items')
    op.drop_table('applicant_profiles')
