"""The role 委主要负责人 (head of the commission): the extensions that the law reserves to the head
(企业投资项目核准: up to 40 working days, 国务院令673 §10) are approved by a user with it.

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.bulk_insert(sa.table('roles', sa.column('code'), sa.column('name'), sa.column('description')),
                   [{"code": "head", "name": "委主要负责人", "description": ""}])


def downgrade():
    op.execute("DELETE FROM user_roles WHERE role_code = 'head'")
    op.execute("DELETE FROM roles WHERE code = 'head'")
