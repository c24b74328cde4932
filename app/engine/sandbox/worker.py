"""A script worker: a separate process that evaluates BPMN scripts and expressions for the engine,
under the RestrictedPython policy (the first line) and operating-system limits (the second):

- address space (RLIMIT_AS): what the interpreter needed after start-up plus :data:`MAX_GROWTH_BYTES`;
  a script that allocates more gets a MemoryError, or the process dies;
- CPU seconds (RLIMIT_CPU) over the worker's life, as a backstop — the engine recycles a worker long
  before, and stops one that overruns a call's wall-clock limit by killing it;
- no file descriptors beyond its pipe (RLIMIT_NOFILE = 3: stdin, stdout, stderr), hence no files
  and no network; no child processes (RLIMIT_NPROC 0 when not root); an unprivileged user when
  started as root.

It is started with only the sandbox package on its path (see :mod:`.pool`): nothing of the app, no
database, no settings or secrets in its environment. The protocol on stdin/stdout is a 4-byte
big-endian length and a JSON message (:mod:`.codec`):

    engine → worker  {"op": "eval"|"exec", "src": …, "ctx": {…}, "ext": {…}, "rpc": [names], "limit": s}
    worker → engine  {"call": name, "args": […]}  (a helper the engine runs: the clock, the calendar)
    engine → worker  {"ret": value} | {"err": message}
    worker → engine  {"ok": true, "value": …, "ctx": {…}, "cpu": s} | {"ok": false, "kind": …, "msg": …}
"""
from __future__ import annotations

import os
import resource
import struct
import time

from . import codec
from .limits import MAX_GROWTH_BYTES, ScriptError
from .policy import _GUARDS, HELPERS, SAFE_BUILTINS, compile_code, script_variables
from .tracer import _run

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 1024 * 1024
CPU_SECONDS = 120  # the life-time backstop; the engine recycles a worker after half of it


class _Broken(Exception):
    pass


def _read_exact(n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(0, min(n, 1 << 20))
        if not chunk:
            raise _Broken("engine closed the pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive() -> dict:
    (size,) = HEADER.unpack(_read_exact(HEADER.size))
    if size > MAX_MESSAGE:
        raise _Broken("message too large")
    return codec.loads(_read_exact(size))


def _send(message: dict) -> None:
    body = codec.dumps(message)
    data = HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(1, view)
        view = view[written:]


def _remote(name: str):
    """A helper that runs in the engine (it needs the app's clock or the working-day calendar)."""

    def call(*args, **kwargs):
        if kwargs:
            raise ScriptError(f"{name}() 不接受关键字参数")
        _send({"call": name, "args": codec.to_wire(list(args), f"{name}() 的参数")})
        reply = _receive()
        if "err" in reply:
            raise ScriptError(str(reply["err"]))
        return reply.get("ret")

    call.__name__ = name
    return call


def _globals(ctx: dict, ext: dict | None, rpc: list[str]) -> dict:
    glb = {"__builtins__": SAFE_BUILTINS, **_GUARDS, **HELPERS, **{n: _remote(n) for n in rpc}}
    if ext:
        glb.update(ext)
    glb.update(ctx)
    return glb


def _handle(req: dict) -> dict:
    op, src, limit = req.get("op"), req.get("src"), float(req.get("limit") or 1.0)
    ctx, ext, rpc = req.get("ctx") or {}, req.get("ext") or {}, list(req.get("rpc") or ())
    if op == "eval":
        value = _run(compile_code(src, "eval"), _globals(ctx, ext, rpc), limit, "eval")
        return {"ok": True, "value": codec.to_wire(value, "表达式的值")}
    if op == "exec":
        glb = _globals(ctx, ext, rpc)  # the engine refused task data that shadows these names
        _run(compile_code(src, "exec"), glb, limit, "exec")
        result = script_variables(glb, set(HELPERS) | set(rpc) | set(_GUARDS) | set(ext))
        return {"ok": True, "ctx": codec.to_wire(result, "脚本结果")}
    raise _Broken(f"unknown op {op!r}")


def _limit_self() -> None:
    """Operating-system limits, set once the interpreter has loaded all it needs."""
    compile_code("x = [1] * 3\ny = str(x) + '%s' % 1", "exec")  # load what compiling and running need
    _run(compile_code("len(str(range(3)))", "eval"), _globals({}, None, []), 1.0, "eval")
    with open("/proc/self/statm", "rb") as fh:
        size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    address_space = size + MAX_GROWTH_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)  # nobody
        except OSError:
            pass
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))


def main() -> None:
    _limit_self()
    _send({"ready": True})
    while True:
        try:
            req = _receive()
        except (_Broken, codec.Unstorable):
            return
        started = time.process_time()
        try:
            reply = _handle(req)
        except ScriptError as exc:
            reply = {"ok": False, "kind": exc.kind, "msg": str(exc)[:4000], "line": exc.line}
            if getattr(exc, "fatal", False):
                reply["fatal"] = True
        except MemoryError:
            reply = {"ok": False, "kind": "limit", "msg": f"脚本占用内存超过 {MAX_GROWTH_BYTES // 2**20} MB，已中止 "
                                                          "(memory limit exceeded)", "fatal": True}
        except _Broken:
            return
        except BaseException as exc:  # noqa: BLE001 - anything a script raises is the script's fault
            reply = {"ok": False, "kind": "error", "msg": f"{type(exc).__name__}: {str(exc)[:2000]}"}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        reply["cpu"] = usage.ru_utime + usage.ru_stime
        reply["took"] = time.process_time() - started
        try:
            _send(reply)
        except (OSError, codec.Unstorable, MemoryError, RecursionError):
            return
        if reply.get("fatal"):
            return
