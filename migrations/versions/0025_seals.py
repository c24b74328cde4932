"""sealed decision documents and electronic licences (issue 17).

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sealed_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('doc_no', sa.String(length=100), nullable=False),
        sa.Column('case_no', sa.String(length=50), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('cert_sha256', sa.String(length=64), nullable=False),
        sa.Column('cert_subject', sa.String(length=300), nullable=False),
        sa.Column('organ', sa.String(length=200), nullable=False),
        sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sealed_by', sa.String(length=64), nullable=False),
        sa.Column('verify_code', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_sealed_documents_case_id_cases')),
        sa.ForeignKeyConstraint(['file_id'], ['case_files.id'], name=op.f('fk_sealed_documents_file_id_case_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_documents')),
        sa.UniqueConstraint('case_id', 'kind', name='uq_sealed_documents_case_kind'),
        sa.UniqueConstraint('verify_code', name=op.f('uq_sealed_documents_verify_code')),
    )
    op.create_index(op.f('ix_sealed_documents_case_id'), 'sealed_documents', ['case_id'])
    op.create_index(op.f('ix_sealed_documents_sha256'), 'sealed_documents', ['sha256'])
    op.create_index(op.f('ix_sealed_documents_cert_sha256'), 'sealed_documents', ['cert_sha256'])
    op.create_table(
        'licences',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('sealed_document_id', sa.Integer(), nullable=False),
        sa.Column('licence_id', sa.String(length=120), nullable=False),
        sa.Column('type_code', sa.String(length=40), nullable=False),
        sa.Column('type_name', sa.String(length=200), nullable=False),
        sa.Column('licence_no', sa.String(length=100), nullable=False),
        sa.Column('holder_name', sa.String(length=200), nullable=False),
        sa.Column('holder_code', sa.String(length=18), nullable=True),
        sa.Column('issuer_name', sa.String(length=200), nullable=False),
        sa.Column('issuer_code', sa.String(length=18), nullable=True),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_licences_case_id_cases')),
        sa.ForeignKeyConstraint(['sealed_document_id'], ['sealed_documents.id'],
                                name=op.f('fk_licences_sealed_document_id_sealed_documents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_licences')),
        sa.UniqueConstraint('case_id', name=op.f('uq_licences_case_id')),
        sa.UniqueConstraint('licence_id', name=op.f('uq_licences_licence_id')),
    )
    op.create_index(op.f('ix_licences_licence_no'), 'licences', ['licence_no'])


def downgrade():
    op.drop_index(op.f('ix_licences_licence_no'), table_name='licences')
    op.drop_table('licences')
    op.drop_index(op.f('ix_sealed_documents_cert_sha256'), table_name='sealed_documents')
    op.drop_index(op.f('ix_sealed_documents_sha256'), table_name='sealed_documents')
    op.drop_index(op.f('ix_sealed_documents_case_id'), table_name='sealed_documents')
    op.drop_table('sealed_documents')
