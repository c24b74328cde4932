"""PostgreSQL (psycopg 3): a cursor whose ``description`` makes its columns when they are read.

psycopg builds a ``Column`` object for every column of every result as soon as ``description`` is
asked for. SQLAlchemy asks for it on every result but reads it only the first time a compiled
statement runs: afterwards the result's columns come from the statement's cached metadata and the
description is only tested against None. A step's reads carry about 120 columns (the task joined
with its instance and case, the case's open tasks): building them was a tenth of the driver's own
time in a task submit (bench/profile_submit.py).

``LazyDescription`` is the same sequence of ``Column`` objects, made on first use from the result
the description was asked for — not from whatever the cursor holds by then."""
from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.pq import ExecStatus

#: the statuses with which psycopg gives a description even without columns ("SELECT ;")
_TUPLES = {ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK}


class _ResultOf:
    """What ``Column`` reads of its cursor, as it was when the description was asked for."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor):
        self.pgresult, self._encoding, self.adapters = cursor.pgresult, cursor._encoding, cursor.adapters


class LazyDescription(Sequence):
    __slots__ = ("_of", "_n", "_columns")

    def __init__(self, cursor, nfields: int):
        self._of, self._n, self._columns = _ResultOf(cursor), nfields, None

    def _made(self) -> list:
        if self._columns is None:
            self._columns = [psycopg.Column(self._of, i) for i in range(self._n)]
            self._of = None
        return self._columns

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        return self._made()[index]

    def __iter__(self):
        return iter(self._made())

    def __eq__(self, other) -> bool:
        return isinstance(other, (list, tuple, LazyDescription)) and list(self) == list(other)

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self._made())


class LazyDescriptionCursor(psycopg.Cursor):
    __slots__ = ()

    @property
    def description(self):
        res = self.pgresult
        if res and (res.nfields or res.status in _TUPLES):
            return LazyDescription(self, res.nfields)
        return None


def use_lazy_description(dbapi_connection, _record) -> None:
    """The engine's ``connect`` hook when the driver is psycopg (app/__init__.py)."""
    dbapi_connection.cursor_factory = LazyDescriptionCursor
