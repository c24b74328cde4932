"""The sandbox's limits (the sizes, counts and memory a script may reach) and :class:`ScriptError`,
the one exception every failure of a script or expression raises."""
from __future__ import annotations

MAX_RANGE = 100_000
MAX_SEQUENCE = 1_000_000      # items of a list / tuple built by one operation
MAX_TEXT = 10_000_000         # characters (or bytes) of one text built by one operation
MAX_INT_BITS = 4096
MAX_STRFTIME = 1000           # characters of a date format (strftime may write 256 per character)
MAX_GROWTH_BYTES = 512 * 1024 * 1024  # resident memory a script may add before it is stopped
MAX_INSTANCES = 1000          # instances of one multi-instance activity / iterations of one standard loop


class ScriptError(Exception):
    """A script or expression failed: it could not compile, broke a rule, or ran out of time."""

    def __init__(self, message: str, *, kind: str = "error", line: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.line = line


class ScriptTimeout(ScriptError):
    pass
