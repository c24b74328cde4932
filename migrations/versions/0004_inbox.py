"""staff inbox: organisation (regions, departments, roles), TOTP, task inbox index, cc,
participants, case files, delegation / 加签 / draft fields

Revision ID: 0004
Revises: 0003
"""
import json

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ROLES = [("window_clerk", "窗口人员"), ("handler", "经办人"), ("chief", "处长"), ("leader", "委领导"),
         ("liaison", "联络员"), ("inspector", "电子监察"), ("designer", "流程设计"), ("admin", "系统管理员")]


def upgrade():
    op.create_table(
        'regions',
        sa.Column('code', sa.String(6), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('parent_code', sa.String(6), nullable=True),
        sa.Column('level', sa.String(8), nullable=False))
    op.create_table(
        'departments',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(48), nullable=False),
        sa.Column('name', sa.String(128), nullable=False),
        sa.Column('region_code', sa.String(6), sa.ForeignKey('regions.code'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('code', 'region_code', name='uq_departments_code_region'))
    op.create_table(
        'roles',
        sa.Column('code', sa.String(32), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('description', sa.String(300), nullable=False))
    op.create_table(
        'user_roles',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('role_code', sa.String(32), sa.ForeignKey('roles.code'), nullable=False),
        sa.Column('department_id', sa.Integer(), sa.ForeignKey('departments.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('user_id', 'role_code', 'department_id', name='uq_user_roles'))
    op.create_index('ix_user_roles_user_id', 'user_roles', ['user_id'])

    op.bulk_insert(sa.table('roles', sa.column('code'), sa.column('name'), sa.column('description')),
                   [{"code": c, "name": n, "description": ""} for c, n in ROLES])
    from app.domain.org import REGIONS
    op.bulk_insert(sa.table('regions', sa.column('code'), sa.column('name'), sa.column('parent_code'),
                            sa.column('level')),
                   [{"code": c, "name": n, "parent_code": p, "level": lv} for c, n, p, lv in REGIONS])

    with op.batch_alter_table('users') as b:
        b.add_column(sa.Column('totp_secret', sa.String(64), nullable=True))
        b.add_column(sa.Column('totp_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    with op.batch_alter_table('cases') as b:
        b.add_column(sa.Column('region_code', sa.String(6), nullable=False, server_default='320000'))
    with op.batch_alter_table('human_tasks') as b:
        b.add_column(sa.Column('process_id', sa.String(64), nullable=True))
        b.add_column(sa.Column('region_code', sa.String(6), nullable=False, server_default='320000'))
        b.add_column(sa.Column('kind', sa.String(8), nullable=False, server_default='user'))
        b.add_column(sa.Column('parent_id', sa.String(36), nullable=True))
        b.add_column(sa.Column('sign_mode', sa.String(8), nullable=True))
        b.add_column(sa.Column('blocked', sa.Integer(), nullable=False, server_default='0'))
        b.add_column(sa.Column('pending_data', sa.JSON(), nullable=True))
        b.add_column(sa.Column('pending_by', sa.String(64), nullable=True))
        b.add_column(sa.Column('owner', sa.String(64), nullable=True))
        b.add_column(sa.Column('delegation', sa.String(16), nullable=True))
        b.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        b.add_column(sa.Column('draft_by', sa.String(64), nullable=True))
        b.add_column(sa.Column('draft_at', sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column('outcome', sa.String(16), nullable=True))
        b.add_column(sa.Column('opinion', sa.Text(), nullable=True))
        b.add_column(sa.Column('urge_count', sa.Integer(), nullable=False, server_default='0'))
        b.create_index('ix_human_tasks_parent_id', ['parent_id'])
        b.create_index('ix_human_tasks_done_by', ['completed_by', 'completed_at'])

    # the inbox index gets a new shape: keys with region, and the urgency order copied in
    op.drop_table('task_candidates')
    op.create_table(
        'task_candidates',
        sa.Column('task_id', sa.String(36), sa.ForeignKey('human_tasks.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('key', sa.String(96), primary_key=True),
        sa.Column('due_sort', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('process_id', sa.String(64), nullable=True))
    op.create_index('ix_task_candidates_key_due', 'task_candidates', ['key', 'due_sort', 'created_at', 'task_id'])
    op.create_index('ix_task_candidates_key_proc_due', 'task_candidates',
                    ['key', 'process_id', 'due_sort', 'created_at', 'task_id'])
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE human_tasks SET process_id = (SELECT process_id FROM cases "
                         "WHERE cases.id = human_tasks.case_id) WHERE case_id IS NOT NULL"))
    rows = conn.execute(sa.text("SELECT id, assignee, candidate_groups, candidate_users, due_date, created_at, "
                                "process_id FROM human_tasks WHERE state = 'ready'")).all()
    cands = sa.table('task_candidates', sa.column('task_id'), sa.column('key'), sa.column('due_sort', sa.Date()),
                     sa.column('created_at', sa.DateTime(timezone=True)), sa.column('process_id'))
    import datetime
    out = []
    for r in rows:
        groups = r.candidate_groups if isinstance(r.candidate_groups, list) else json.loads(r.candidate_groups or "[]")
        users = r.candidate_users if isinstance(r.candidate_users, list) else json.loads(r.candidate_users or "[]")
        keys = {f"u:{r.assignee}"} if r.assignee else {f"g:{g}@320000" for g in groups} | {f"u:{u}" for u in users}
        due = r.due_date or datetime.date(9999, 12, 31)
        if isinstance(due, str):
            due = datetime.date.fromisoformat(due[:10])
        created = r.created_at
        if isinstance(created, str):
            created = datetime.datetime.fromisoformat(created)
        out += [{"task_id": r.id, "key": k, "due_sort": due, "created_at": created, "process_id": r.process_id}
                for k in keys]
    if out:
        op.bulk_insert(cands, out)

    op.create_table(
        'task_cc',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('task_id', sa.String(36), nullable=True),
        sa.Column('from_user', sa.String(64), nullable=False),
        sa.Column('to_user', sa.String(64), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_task_cc_case_id', 'task_cc', ['case_id'])
    op.create_index('ix_task_cc_to_created', 'task_cc', ['to_user', 'created_at'])
    op.create_table(
        'case_participants',
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('username', sa.String(64), primary_key=True),
        sa.Column('last_action', sa.String(32), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_case_participants_user_last', 'case_participants', ['username', 'last_at'])
    op.create_table(
        'case_files',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('task_id', sa.String(36), nullable=True),
        sa.Column('uploaded_by', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('filename', sa.String(200), nullable=False),
        sa.Column('content_type', sa.String(64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('storage_key', sa.String(200), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_case_files_case_id', 'case_files', ['case_id'])


def downgrade():
    for t in ('case_files', 'case_participants', 'task_cc', 'task_candidates'):
        op.drop_table(t)
    op.create_table(
        'task_candidates',
        sa.Column('task_id', sa.String(36), sa.ForeignKey('human_tasks.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('kind', sa.String(1), primary_key=True),
        sa.Column('value', sa.String(64), primary_key=True))
    op.create_index('ix_task_candidates_value', 'task_candidates', ['kind', 'value'])
    with op.batch_alter_table('human_tasks') as b:
        b.drop_index('ix_human_tasks_done_by')
        b.drop_index('ix_human_tasks_parent_id')
        for c in ('urge_count', 'opinion', 'outcome', 'draft_at', 'draft_by', 'draft', 'claimed_at', 'delegation',
                  'owner', 'pending_by', 'pending_data', 'blocked', 'sign_mode', 'parent_id', 'kind',
                  'region_code', 'process_id'):
            b.drop_column(c)
    with op.batch_alter_table('cases') as b:
        b.drop_column('region_code')
    with op.batch_alter_table('users') as b:
        for c in ('totp_last_step', 'totp_enabled', 'totp_secret'):
            b.drop_column(c)
    op.drop_index('ix_user_roles_user_id', 'user_roles')
    for t in ('user_roles', 'roles', 'departments', 'regions'):
        op.drop_table(t)
