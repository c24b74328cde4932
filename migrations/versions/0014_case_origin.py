"""A case forwarded in from another platform (转报, issue 14) knows its origin: cases.origin_region
(the sending platform's GB/T 2260 region) and cases.origin_case_no (the case number there). One
origin case makes at most one case here (unique pair), whatever the number of forward messages.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('origin_region', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('origin_case_no', sa.String(length=50), nullable=True))
        batch.create_unique_constraint('uq_cases_origin', ['origin_region', 'origin_case_no'])


def downgrade():
    with op.batch_alter_table('cases') as batch:
        batch.drop_constraint('uq_cases_origin', type_='unique')
        batch.drop_column('origin_case_no')
        batch.drop_column('origin_region')
