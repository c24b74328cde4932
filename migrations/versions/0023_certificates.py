"""certificate sign-in of staff (issue 17): certificates bound to users, login challenges, per-role policies.

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('serial_hex', sa.String(length=80), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('subject_serial', sa.String(length=64), nullable=True),
        sa.Column('algorithm', sa.String(length=16), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('der', sa.LargeBinary(), nullable=False),
        sa.Column('bound_by', sa.String(length=64), nullable=False),
        sa.Column('bound_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_certificates_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_certificates')),
        sa.UniqueConstraint('sha256', name=op.f('uq_user_certificates_sha256')),
        sa.UniqueConstraint('issuer', 'serial_hex', name='uq_user_certificates_issuer_serial'),
    )
    op.create_index(op.f('ix_user_certificates_user_id'), 'user_certificates', ['user_id'])
    op.create_table(
        'cert_challenges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('session_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_challenges')),
        sa.UniqueConstraint('nonce', name=op.f('uq_cert_challenges_nonce')),
    )
    op.create_index(op.f('ix_cert_challenges_expires_at'), 'cert_challenges', ['expires_at'])
    op.create_table(
        'cert_login_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('serial_hex', sa.String(length=80), nullable=False),
        sa.Column('der', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_login_attempts')),
    )
    op.create_index(op.f('ix_cert_login_attempts_at'), 'cert_login_attempts', ['at'])
    op.create_index(op.f('ix_cert_login_attempts_sha256'), 'cert_login_attempts', ['sha256'])
    op.create_table(
        'cert_role_policies',
        sa.Column('role_code', sa.String(length=32), nullable=False),
        sa.Column('require_certificate', sa.Boolean(), nullable=False),
        sa.Column('decision_high', sa.Boolean(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['role_code'], ['roles.code'], name=op.f('fk_cert_role_policies_role_code_roles')),
        sa.PrimaryKeyConstraint('role_code', name=op.f('pk_cert_role_policies')),
    )
    op.create_table(
        'cert_audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_audit')),
    )
    op.create_index('ix_cert_audit_user', 'cert_audit', ['user_id', 'at'])


def downgrade():
    op.drop_index('ix_cert_audit_user', table_name='cert_audit')
    op.drop_table('cert_audit')
    op.drop_table('cert_role_policies')
    op.drop_index(op.f('ix_cert_login_attempts_sha256'), table_name='cert_login_attempts')
    op.drop_index(op.f('ix_cert_login_attempts_at'), table_name='cert_login_attempts')
    op.drop_table('cert_login_attempts')
    op.drop_index(op.f('ix_cert_challenges_expires_at'), table_name='cert_challenges')
    op.drop_table('cert_challenges')
    op.drop_index(op.f('ix_user_certificates_user_id'), table_name='user_certificates')
    op.drop_table('user_certificates')
