"""case_events.task_ref: the task row an event concerns, outside the trail's hash chain; and the repair
of the rows a 退回 / 撤回 altered.

A step reopened by 退回 / 撤回 takes the engine's id of the finished step, whose row goes on as history
under a new id. Until now the events of that finished round were given the new id by rewriting their
``task_id``, which is part of each row's hash (issue 17): after any 退回 / 撤回 the case's trail no
longer verified. From now on the link goes to ``task_ref`` and ``task_id`` stays as recorded.

The upgrade repairs the rows rewritten since the chain exists: in every case with a return or
withdraw in its trail, an event whose hash does not verify gets back, as ``task_id``, the id of one of
the case's task rows with which it does verify — the hash itself proves it was the recorded value —
and the id it had becomes its ``task_ref``. A row that verifies with no such id is left as it is, for
``flask trail verify`` to name.

Revision ID: 0026
Revises: 0025
"""
from alembic import op
import sqlalchemy as sa

from app.models.base import UTCDateTime
from app.domain.trail_chain import FIELDS, row_hash

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_events = sa.table(
    'case_events', sa.column('id', sa.Integer()), sa.column('case_id', sa.Integer()), sa.column('at', UTCDateTime()),
    sa.column('actor', sa.String()), sa.column('action', sa.String()), sa.column('task_id', sa.String()),
    sa.column('element_id', sa.String()), sa.column('step_name', sa.String()), sa.column('opinion', sa.Text()),
    sa.column('from_status', sa.String()), sa.column('to_status', sa.String()),
    sa.column('data_change', sa.JSON()), sa.column('seq', sa.Integer()), sa.column('prev_hash', sa.String()),
    sa.column('row_hash', sa.String()), sa.column('task_ref', sa.String()))
_tasks = sa.table('human_tasks', sa.column('id', sa.String()), sa.column('case_id', sa.Integer()),
                  sa.column('element_id', sa.String()))


def upgrade():
    op.add_column('case_events', sa.Column('task_ref', sa.String(length=36), nullable=True))
    repair(op.get_bind())


def repair(conn) -> int:
    """Give back the recorded task_id of the events a 退回 / 撤回 rewrote; returns how many."""
    cases = [r[0] for r in conn.execute(
        sa.select(_events.c.case_id).where(_events.c.action.in_(("return", "withdraw"))).distinct())]
    fixed = 0
    for case_id in sorted(cases):
        tasks = conn.execute(sa.select(_tasks.c.id, _tasks.c.element_id).where(_tasks.c.case_id == case_id)).all()
        for ev in conn.execute(sa.select(_events).where(_events.c.case_id == case_id, _events.c.task_id.is_not(None),
                                                        _events.c.row_hash.is_not(None),
                                                        _events.c.task_ref.is_(None))).all():
            fields = {f: getattr(ev, f) for f in FIELDS}
            if row_hash(**fields) == ev.row_hash:
                continue
            # the reopened step's row has the recorded id and the same element: try those first
            ordered = sorted(tasks, key=lambda t: t.element_id != ev.element_id)
            for cand in (t.id for t in ordered if t.id != ev.task_id):
                if row_hash(**{**fields, "task_id": cand}) == ev.row_hash:
                    conn.execute(sa.update(_events).where(_events.c.id == ev.id)
                                 .values(task_id=cand, task_ref=ev.task_id))
                    fixed += 1
                    break
    return fixed


def downgrade():
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_column('task_ref')
