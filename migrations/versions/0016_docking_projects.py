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
    pass


def downgrade():
    pass
