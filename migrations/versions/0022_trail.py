"""the tamper-evident trail (issue 17): hash chain of case_events and the signed daily Merkle roots.

case_events gets seq / prev_hash / row_hash and UNIQUE (case_id, seq); cases gets the chain head
(trail_seq, trail_head); trail_roots keeps the signed daily roots. The upgrade BACKFILLS the chain of
every existing case (its rows ordered by id), so an upgraded database verifies clean; a case whose
stored files' SHA-256 no event carries yet gets one more event ("files_chained", by system) listing
them. The canonical form is app/domain/trail_chain.py's (imported, so both hash alike).

Revision ID: 0022
Revises: 0021
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime
from app.domain.trail_chain import GENESIS, chained_sha256, json_value, row_hash

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_events = sa.table(
    'case_events', sa.column('id', sa.Integer()), sa.column('case_id', sa.Integer()), sa.column('at', UTCDateTime()),
    sa.column('actor', sa.String()), sa.column('action', sa.String()), sa.column('task_id', sa.String()),
    sa.column('element_id', sa.String()), sa.column('step_name', sa.String()), sa.column('opinion', sa.Text()),
    sa.column('from_status', sa.String()), sa.column('to_status', sa.String()),
    sa.column('data_change', sa.JSON()), sa.column('seq', sa.Integer()), sa.column('prev_hash', sa.String()),
    sa.column('row_hash', sa.String()))
_cases = sa.table('cases', sa.column('id', sa.Integer()), sa.column('trail_seq', sa.Integer()),
                  sa.column('trail_head', sa.String()))
_files = sa.table('case_files', sa.column('case_id', sa.Integer()), sa.column('filename', sa.String()),
                  sa.column('sha256', sa.String()), sa.column('id', sa.Integer()))
FIELDS = ('case_id', 'at', 'actor', 'action', 'task_id', 'element_id', 'step_name', 'opinion', 'from_status',
          'to_status')


def upgrade():
    with op.batch_alter_table('case_events') as b:
        b.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        b.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        b.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('cases') as b:
        b.add_column(sa.Column('trail_seq', sa.Integer(), nullable=False, server_default='0'))
        b.add_column(sa.Column('trail_head', sa.String(length=64), nullable=True))
    op.create_table(
        'trail_roots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('tree_size', sa.Integer(), nullable=False),
        sa.Column('root_hash', sa.String(length=64), nullable=False),
        sa.Column('signature', sa.Text(), nullable=False),
        sa.Column('key_id', sa.String(length=64), nullable=False),
        sa.Column('public_key', sa.String(length=100), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('leaves', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trail_roots')),
        sa.UniqueConstraint('day', name=op.f('uq_trail_roots_day')),
    )
    _backfill(op.get_bind())
    with op.batch_alter_table('case_events') as b:
        b.create_unique_constraint('uq_case_events_seq', ['case_id', 'seq'])
    op.create_index('ix_case_events_at', 'case_events', ['at'])  # the day's changed cases, for its root


def _backfill(conn) -> None:
    """Chain every case's existing rows in id order; one UPDATE per row, one per case."""
    files: dict = {}
    for f in conn.execute(sa.select(_files.c.case_id, _files.c.filename, _files.c.sha256).order_by(_files.c.id)):
        files.setdefault(f.case_id, []).append((f.filename, f.sha256))
    case_ids = [r[0] for r in conn.execute(sa.select(_cases.c.id).order_by(_cases.c.id))]
    for case_id in case_ids:
        seq, prev, shas = 0, GENESIS, set()
        for ev in conn.execute(sa.select(_events).where(_events.c.case_id == case_id).order_by(_events.c.id)).all():
            seq += 1
            dc = json_value(ev.data_change)
            chained_sha256(dc, shas)
            h = row_hash(seq=seq, prev_hash=prev, data_change=dc, **{k: getattr(ev, k) for k in FIELDS})
            conn.execute(sa.update(_events).where(_events.c.id == ev.id).values(seq=seq, prev_hash=prev, row_hash=h,
                                                                                 data_change=dc))
            prev = h
        unchained = [(n, s) for n, s in files.get(case_id, []) if s not in shas]
        if unchained:
            seq += 1
            dc = json_value({"files": [n for n, _s in unchained], "sha256": [s for _n, s in unchained]})
            fields = dict(case_id=case_id, at=datetime.now(timezone.utc), actor="system", action="files_chained",
                          task_id=None, element_id=None, step_name=None, opinion="升级时将已存文件的哈希入链",
                          from_status=None, to_status=None)
            h = row_hash(seq=seq, prev_hash=prev, data_change=dc, **fields)
            conn.execute(sa.insert(_events).values(seq=seq, prev_hash=prev, row_hash=h, data_change=dc, **fields))
            prev = h
        if seq:
            conn.execute(sa.update(_cases).where(_cases.c.id == case_id).values(trail_seq=seq, trail_head=prev))


def downgrade():
    op.drop_index('ix_case_events_at', table_name='case_events')
    with op.batch_alter_table('case_events') as b:
        b.drop_constraint('uq_case_events_seq', type_='unique')
        b.drop_column('row_hash')
        b.drop_column('prev_hash')
        b.drop_column('seq')
    with op.batch_alter_table('cases') as b:
        b.drop_column('trail_head')
        b.drop_column('trail_seq')
    op.drop_table('trail_roots')
