"""Docking (issue 15): the investment project platform: projects as the platform returned them (项目代码 lookup cache, the owner check).

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'docking_projects',
        sa.Column('code', sa.String(length=24), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('owner_code', sa.String(length=18), nullable=False),
        sa.Column('owner_name', sa.String(length=200), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('location', sa.String(length=300), nullable=False),
        sa.Column('total_investment', sa.Numeric(18, 4), nullable=True),
        sa.Column('industry_code', sa.String(length=20), nullable=False),
        sa.Column('industry_name', sa.String(length=100), nullable=False),
        sa.Column('construction_content', sa.Text(), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_docking_projects')),
    )
    op.create_index('ix_docking_projects_owner_code', 'docking_projects', ['owner_code'])


def downgrade():
    op.drop_index('ix_docking_projects_owner_code', table_name='docking_projects')
    op.drop_table('docking_projects')
