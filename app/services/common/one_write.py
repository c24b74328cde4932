"""The writes of a step in one statement (PostgreSQL; issue 20).

A task completion changes a handful of rows: the completed task, the instance's state, the case, the
trail row, the next task and its inbox keys, 我经手的. Written by the ORM's flush and by the statements
the step runs itself, each is a statement and a round trip of its own (13 a submit). Inside
``step_writes()`` (the inbox's transactions; ``STEP_ONE_STATEMENT``, on by default):

- the step's own writes that nothing in the step reads back (the inbox index rows of the completed
  task, the 我经手的 upsert) are kept (``run_later``) instead of run at once: they run before any other
  statement of the session (``do_orm_execute``, ``before_flush``, ``before_commit``), so the order of
  what the database sees is the order in which they were asked for;
- at the end (``write_as_one``), what is kept and every INSERT/UPDATE the flush would run for the
  session's new and changed objects are sent as one ``WITH w0 AS (… RETURNING 1), w1 AS (…) SELECT
  count(w0), count(w1) …``. The counts are checked as the flush checks them: an UPDATE that matched no
  row raises ``StaleDataError`` and the transaction is rolled back. The objects are then what the
  database holds: changed objects keep their values as committed, new objects leave the session.

All parts of one statement see the same snapshot and foreign keys are checked at its end, so a task
and its inbox rows go in together. What this writer does not handle (a deleted object, a mapper over
several tables or with a version counter, a value that is SQL) goes through the ORM's flush as before.
The statement's text is compiled once per shape (the tables and columns of its parts) and kept; a
step fills in the values only.

SQLite cannot put DML in a CTE: there the same parts go one statement each, in the same order (new
rows parents first), each compiled once per shape, with the same row-count check — what the flush
would send, without building it from the objects on every step."""
from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, event, func, inspect, literal_column, select, update
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import PassiveFlag
from sqlalchemy.orm.exc import StaleDataError

from ...extensions import db

try:
    # psycopg converts a statement's %(name)s placeholders once and keeps the result for statements of
    # up to 4 KiB and 50 parameters; the step's one statement (every column of a task, an event, a
    # case …) is larger and would be converted again on every step (about 1 ms of a submit,
    # bench/profile_submit.py)
    from psycopg import _queries as _psycopg_queries
    _psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(_psycopg_queries.MAX_CACHED_STATEMENT_LENGTH, 32768)
    _psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(_psycopg_queries.MAX_CACHED_STATEMENT_PARAMS, 400)
except ImportError:  # pragma: no cover - SQLite-only installs
    _psycopg_queries = None

ACTIVE = "one_write.active"     # session.info: this transaction's writes are kept for one statement
LATER = "one_write.later"       # session.info: [(key, statement)] kept by run_later


@contextmanager
def step_writes():
    """The transaction of one inbox operation: keep its writes for ``write_as_one`` (PostgreSQL)."""
    session = db.session
    session.info[ACTIVE] = current_app.config.get("STEP_ONE_STATEMENT", True)
    try:
        yield
    finally:
        session.info.pop(ACTIVE, None)


def _waiting(session, models) -> bool:
    """Objects of ``models`` the session has still to write."""
    return any(isinstance(obj, models) for obj in session.new) or \
        any(isinstance(obj, models) for obj in session.dirty) or \
        any(isinstance(obj, models) for obj in session.deleted)


def waiting_writes(*models) -> bool:
    """Whether the session has objects of ``models`` still to write (a read of their table only needs
    the autoflush then)."""
    return _waiting(db.session, models)


def run_later(stmt, models: tuple, *, params: dict, key=None) -> None:
    """Run a DML statement on ``models``' tables whose effect nothing in the step reads back: kept for
    the step's one statement when there is one, else run now. ``stmt`` is built once (its values are
    ``bindparam``s, ``params`` their values of this call), so that the one statement's text is built
    once for each shape of step. ``key``: a later statement with the same key replaces the kept one
    (the 我经手的 upsert of one user on one case, twice in a step)."""
    session = db.session
    waiting = _waiting(session, models)
    if session.info.get(ACTIVE) and not waiting:
        kept = session.info.setdefault(LATER, [])
        if key is not None:
            kept[:] = [k for k in kept if k[0] != key]
        kept.append((key, stmt, params))
        return
    # with the values in the statement: the ORM's synchronisation of the session's objects reads them there
    stmt = _rebind(stmt, "", params)
    if waiting:
        session.execute(stmt)            # the objects first, as the autoflush always did
        return
    with session.no_autoflush:
        session.execute(stmt)


def _run_kept(session) -> None:
    kept = session.info.pop(LATER, None)
    if kept:
        conn = session.connection()
        for _, stmt, params in kept:
            conn.execute(stmt, params)


@event.listens_for(Session, "do_orm_execute")
def _kept_first(orm_state) -> None:
    """Any other statement of the session: what was kept runs before it (before its autoflush too)."""
    if LATER in orm_state.session.info:
        _run_kept(orm_state.session)


@event.listens_for(Session, "before_flush")
def _kept_before_flush(session, flush_context, instances) -> None:
    if LATER in session.info:
        _run_kept(session)


@event.listens_for(Session, "before_commit")
def _kept_before_commit(session) -> None:
    if LATER in session.info:
        _run_kept(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_kept(session, previous_transaction) -> None:
    session.info.pop(LATER, None)


class _Facts(NamedTuple):
    """What writing a mapper's objects needs, worked out once per mapper (not on every object of every step)."""
    plain: bool                 # one table, no inheritance, polymorphism or version counter: this writer can
    columns: tuple              # ((attribute key, column), …) in the mapper's order: the INSERT's
    column_of: dict             # attribute key -> column key, for the column attributes
    pk: frozenset               # the primary key's attribute keys
    onupdate: tuple             # columns with a Python-side onupdate


_FACTS: dict = {}


def _facts(mapper) -> _Facts:
    known = _FACTS.get(mapper)
    if known is None:
        known = _FACTS[mapper] = _Facts(
            mapper.inherits is None and mapper.polymorphic_on is None and mapper.version_id_col is None
            and len(mapper.tables) == 1,
            tuple((prop.key, prop.columns[0]) for prop in mapper.column_attrs),
            {prop.key: prop.columns[0].key for prop in mapper.column_attrs},
            frozenset(prop.key for prop in (mapper.get_property_by_column(c) for c in mapper.primary_key)),
            tuple(c for c in mapper.local_table.columns
                  if c.onupdate is not None and not c.onupdate.is_clause_element))
    return known


def _modified(state) -> bool:
    """``session.is_modified(obj, include_collections=False)``, asked of the attributes set since the
    object was loaded only: an attribute not in ``committed_state`` has no history (SQLAlchemy's
    ``History.from_scalar_attribute`` / ``from_object_attribute``), and is_modified asked every
    attribute of the mapper (a submit's instance, task and case: about a hundred)."""
    if not state.modified:
        return False
    manager, dict_ = state.manager, state.dict
    for key in state.committed_state:
        impl = manager[key].impl
        if hasattr(impl, "get_collection") or not hasattr(impl, "get_history"):
            continue
        added, _, deleted = impl.get_history(state, dict_, passive=PassiveFlag.NO_CHANGE)
        if added or deleted:
            return True
    return False


def _default(column):
    d = column.default
    if d is None or d.is_sequence or d.is_clause_element:
        return None, False
    return (d.arg(None) if d.is_callable else d.arg), True


def _is_sql(value) -> bool:
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def _insert(obj):
    """The INSERT the flush would run for a new object, as (shape, {column: value}); Python-side column
    defaults filled in (and set on the object, as the flush does). None when a value is SQL."""
    state = inspect(obj)
    mapper = state.mapper
    dict_ = state.dict
    values = {}
    for key, column in _facts(mapper).columns:
        if key in dict_:
            value = dict_[key]
            # as the flush: None for a type that does not store None as a value (JSON does) is "not
            # given", so the column's default (or the server's) applies
            if value is not None or column.type.should_evaluate_none:
                values[column.key] = value
                continue
        value, has = _default(column)
        if has:
            values[column.key] = value
            dict_[key] = value
    if any(_is_sql(v) for v in values.values()):
        return None
    return ("i", mapper.local_table, tuple(values)), values


def _update(obj):
    """The UPDATE of a changed object: (shape, {column: value}, {attribute: new value}); (None, None, {})
    when nothing changed; None for the shape when the flush must write it (its primary key changed,
    a value is SQL)."""
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    # the attributes set since the object was loaded (``committed_state`` holds their loaded values; an
    # attribute set to the value it had is written again, as harmless as it is rare)
    facts = _facts(mapper)
    changed = {key: state.dict.get(key) for key in state.committed_state if key in facts.column_of}
    if not changed:
        return None, None, {}
    if state.key is None or not facts.pk.isdisjoint(changed) or any(_is_sql(v) for v in changed.values()):
        return False, None, changed
    values = {facts.column_of[k]: v for k, v in changed.items()}
    for column in facts.onupdate:
        if column.key not in values:
            values[column.key] = column.onupdate.arg(None) if column.onupdate.is_callable else column.onupdate.arg
    keys = tuple(values)
    for i, value in enumerate(state.key[1]):
        values[f"pk{i}"] = value
    return ("u", table, keys), values, changed


def _rebind(stmt, prefix: str, values: dict | None = None):
    """``stmt`` with its bind parameters renamed ``<prefix><name>`` (unique in the one statement), or
    given their ``values``."""
    def rename(element):
        if isinstance(element, BindParameter):
            if values is not None:
                return bindparam(element.key, values[element.key], type_=element.type)
            return bindparam(prefix + element.key, type_=element.type)
        return None
    return visitors.replacement_traverse(stmt, {}, rename)


def _part(shape, prefix: str):
    """The Core statement of one part of the one statement, its values as bind parameters."""
    kind, what, keys = shape
    if kind == "k":
        return _rebind(what, prefix)
    columns = what.c
    values = {k: bindparam(prefix + k, type_=columns[k].type) for k in keys}
    if kind == "i":
        return what.insert().values(values)
    pk = list(what.primary_key.columns)
    return update(what).where(*[c == bindparam(f"{prefix}pk{i}", type_=c.type) for i, c in enumerate(pk)]) \
        .values(values)


_SHAPES: dict = {}      # (dialect name, shapes of the parts) -> (SQL text, {bind name: processor})
_MAX_SHAPES = 1024


def _one_statement(dialect, shapes: tuple):
    """The one statement of a step's shape, compiled once: its text and its bind processors."""
    key = (dialect.name, shapes)
    known = _SHAPES.get(key)
    if known is None:
        ctes = [_part(shape, f"w{i}_").returning(literal_column("1")).cte(f"w{i}")
                for i, shape in enumerate(shapes)]
        compiled = select(*[select(func.count()).select_from(cte).scalar_subquery() for cte in ctes]) \
            .compile(dialect=dialect)
        processors = {name: fn for name, fn in compiled._bind_processors.items() if fn is not None}
        known = (compiled.string, processors)
        if len(_SHAPES) >= _MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = known
    return known


_ORDER: dict = {}


def _table_order(table) -> int:
    """Parents before children (foreign keys): the order in which new rows go in."""
    if not _ORDER:
        _ORDER.update((t, i) for i, t in enumerate(db.metadata.sorted_tables))
    return _ORDER.get(table, len(_ORDER))


_SINGLE: dict = {}      # (dialect name, shape) -> (SQL text, bind names in order or None, {name: processor})


def _single(dialect, shape):
    """One part as a statement of its own (SQLite), compiled once."""
    key = (dialect.name, shape)
    known = _SINGLE.get(key)
    if known is None:
        compiled = _part(shape, "").compile(dialect=dialect)
        processors = {name: fn for name, fn in compiled._bind_processors.items() if fn is not None}
        known = (compiled.string, tuple(compiled.positiontup) if compiled.positional else None, processors)
        if len(_SINGLE) >= _MAX_SHAPES:
            _SINGLE.clear()
        _SINGLE[key] = known
    return known


def _one_by_one(conn, parts) -> list[int]:
    """SQLite, which cannot put DML in a CTE: each part's statement, compiled once per shape, in the
    order of the parts; the rows each matched."""
    counts = []
    for _, shape, values in parts:
        sql, names, processors = _single(conn.dialect, shape)
        params = {name: (processors[name](value) if name in processors else value)
                  for name, value in values.items()}
        if names is not None:
            params = tuple(params[name] for name in names)
        counts.append(conn.exec_driver_sql(sql, params).rowcount)
    return counts


def write_as_one(session) -> None:
    """Send the kept statements and the session's pending writes as one statement (see the module's
    docstring; on SQLite one statement each, built once per shape); nothing to do when the session
    holds a change this does not write (the flush writes it at the commit)."""
    if not session.info.get(ACTIVE):
        return
    new = list(session.new)
    dirty = [obj for obj in session.dirty if _modified(inspect(obj))]
    if session.deleted or not all(_facts(inspect(obj).mapper).plain for obj in new + dirty):
        return                               # the kept statements run before the flush, as usual
    inserts = []
    for obj in new:
        part = _insert(obj)
        if part is None:
            return
        inserts.append(part)
    inserts.sort(key=lambda part: _table_order(part[0][1]))    # stable: a table's rows in the order added
    updates = []
    for obj in dirty:
        shape, values, changed = _update(obj)
        if shape is False:
            return
        if shape is not None:
            updates.append((obj, shape, values, changed))
    # the session hands its changed objects over in no fixed order (a set): in a fixed one (table,
    # columns, key; distinct rows, so the order changes nothing of what is written), a step's shape is
    # one text, compiled once and prepared by PostgreSQL once, not one for each order seen
    updates.sort(key=lambda u: (_table_order(u[1][1]), u[1][1].name, u[1][2], repr(inspect(u[0]).key[1])))
    kept = session.info.get(LATER, ())
    if not (inserts or updates) and len(kept) <= 1:
        return                               # at most one kept statement: before_commit runs it as it is
    parts = [(None, ("k", stmt, None), params) for _, stmt, params in kept]
    parts += [(None, shape, values) for shape, values in inserts]
    parts += [(obj, shape, values) for obj, shape, values, _ in updates]
    conn = session.connection()
    session.info.pop(LATER, None)
    if conn.dialect.name == "postgresql":
        sql, processors = _one_statement(conn.dialect, tuple(shape for _, shape, _ in parts))
        params = {}
        for i, (_, _, values) in enumerate(parts):
            prefix = f"w{i}_"
            for name, value in values.items():
                name = prefix + name
                fn = processors.get(name)
                params[name] = fn(value) if fn is not None else value
        counts = conn.exec_driver_sql(sql, params).one()
    else:
        counts = _one_by_one(conn, parts)
    for (obj, _, _), count in zip(parts, counts):
        if obj is not None and count != 1:
            raise StaleDataError(f"UPDATE of {inspect(obj).mapper.class_.__name__} {inspect(obj).key[1]} "
                                 f"matched {count} rows, expected 1")
    for obj in new:
        session.expunge(obj)
    for obj, _, _, changed in updates:
        state = inspect(obj)
        if set(state.committed_state) <= set(changed):
            # all it had changed is written: as the flush leaves it (not modified, so the next autoflush
            # has nothing to look at)
            state._commit_all(state.dict, session.identity_map)
        else:                                # a relationship changed too: the flush writes that later
            for attr, value in changed.items():
                set_committed_value(obj, attr, value)


__all__ = ["step_writes", "run_later", "waiting_writes", "write_as_one"]
