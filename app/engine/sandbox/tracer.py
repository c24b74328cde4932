"""The trace function that stops a running script at its wall-clock limit or when it has grown the
process's resident memory by more than :data:`MAX_GROWTH_BYTES`, and :func:`_run`, which runs
compiled code under it and turns any failure of the script into a :class:`ScriptError`."""
from __future__ import annotations

import sys
import time

from .limits import MAX_GROWTH_BYTES, ScriptError, ScriptTimeout


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


try:
    import os as _os
    _PAGE = _os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _PAGE = 4096
MEMORY_SAMPLE_EVERY = 200  # trace events between two looks at the resident memory


class _Deadline:
    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds
        self.seconds = seconds
        self.events = 0
        base = _resident_bytes()
        self.memory_cap = None if base is None else base + MAX_GROWTH_BYTES

    def tracer(self, frame, event, arg):
        if time.perf_counter() > self.deadline:
            raise ScriptTimeout(f"脚本运行超过 {self.seconds * 1000:.0f} 毫秒，已中止 (time limit exceeded)",
                                kind="timeout")
        self.events += 1
        if self.memory_cap is not None and self.events % MEMORY_SAMPLE_EVERY == 0:
            used = _resident_bytes()
            if used is not None and used > self.memory_cap:
                raise ScriptError(f"脚本占用内存超过 {MAX_GROWTH_BYTES // 2**20} MB，已中止 "
                                  f"(memory limit exceeded)", kind="limit")
        return self.tracer


def _run(code, glb: dict, seconds: float, mode: str):
    deadline = _Deadline(seconds)
    previous = sys.gettrace()
    sys.settrace(deadline.tracer)
    try:
        if mode == "eval":
            return eval(code, glb)  # noqa: S307 - restricted code object with guarded globals
        exec(code, glb)  # noqa: S102
        return None
    except ScriptError:
        raise
    except MemoryError:  # the worker's address-space limit (or the machine's, when run inline)
        err = ScriptError(f"脚本占用内存超过 {MAX_GROWTH_BYTES // 2**20} MB，已中止 (memory limit exceeded)",
                          kind="limit")
        err.fatal = True  # after a MemoryError the interpreter is not to be trusted: replace the worker
        raise err from None
    except Exception as exc:  # the script's own fault: report it, never let it escape as a 500
        line = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<script>":
                line = tb.tb_lineno
            tb = tb.tb_next
        raise ScriptError(f"{type(exc).__name__}: {exc}", line=line) from None
    finally:
        sys.settrace(previous)
