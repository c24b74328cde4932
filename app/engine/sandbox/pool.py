"""The engine's side of the script workers (:mod:`.worker`): a small pool of pre-started processes per
server process, one call at a time on each.

A call sends the compiled-to-be source and the task data, answers the worker's helper calls (the
clock, the working-day calendar: they need the app), and waits at most the call's wall-clock limit
plus a grace; a worker that does not answer by then — stuck in one long C-level call — is killed and
replaced, and so is one that dies (its memory limit) or answers nonsense. Every such failure is a
:class:`ScriptError`, which the engine turns into an incident on the element. What comes back is
checked again (:func:`.codec.check`): the engine never trusts a worker.

Workers are started with ``python -I`` and a bootstrap that puts only this package on the path as
the package ``_sandbox`` (nothing of the app is imported), an empty environment, no inherited file
descriptors, and stderr to /dev/null. A pool belongs to the process that made it: after a fork
(gunicorn's preload) the child makes its own."""
from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...observability.metrics import sandbox_breach
from . import codec
from .limits import ScriptError, ScriptTimeout

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 1024 * 1024
GRACE = 0.25            # of the limit, at least MIN_GRACE seconds: the worker's own tracer stops first
MIN_GRACE = 0.05
START_TIMEOUT = 20.0
RECYCLE_CPU = 60.0      # CPU seconds after which a worker is replaced (its RLIMIT_CPU is 120)
SANDBOX_DIR = Path(__file__).resolve().parent
BOOTSTRAP = (
    "import sys, types\n"
    "pkg = types.ModuleType('_sandbox'); pkg.__path__ = [sys.argv[1]]; sys.modules['_sandbox'] = pkg\n"
    "from _sandbox.worker import main\n"
    "main()\n"
)


class WorkerBroken(ScriptError):
    def __init__(self, message: str):
        super().__init__(f"脚本执行进程异常：{message} (script worker failed)", kind="limit")


class Worker:
    """One worker process and its pipe."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOTSTRAP, str(SANDBOX_DIR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, env={}, cwd="/", start_new_session=True)
        self.rfd, self.wfd = self.proc.stdout.fileno(), self.proc.stdin.fileno()
        self.cpu = 0.0
        self.ready = False

    # -- framing ---------------------------------------------------------------------------------
    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self.rfd], [], [], remaining)
            if not readable:
                raise TimeoutError
            chunk = os.read(self.rfd, min(n, 1 << 20))
            if not chunk:
                raise WorkerBroken("进程已退出")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def receive(self, deadline: float) -> dict:
        (size,) = HEADER.unpack(self._read_exact(HEADER.size, deadline))
        if size > MAX_MESSAGE:
            raise WorkerBroken("回复过大")
        return codec.loads(self._read_exact(size, deadline))

    def send(self, message: dict) -> None:
        body = codec.dumps(message)
        try:
            self._write_all(HEADER.pack(len(body)) + body)
        except OSError:
            raise WorkerBroken("管道已关闭") from None

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    def wait_ready(self) -> None:
        if not self.ready:
            reply = self.receive(time.monotonic() + START_TIMEOUT)
            if not reply.get("ready"):
                raise WorkerBroken("启动失败")
            self.ready = True

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            pass

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Pool:
    """At most ``size`` workers of this process; a call waits for a free one."""

    def __init__(self, size: int = 2):
        self.size = max(1, size)
        self.pid = os.getpid()
        self._idle: list[Worker] = []
        self._count = 0
        self._cond = threading.Condition()

    def warm(self) -> None:
        """Start the workers now (in a thread), so the first script does not wait for them."""
        def start():
            for _ in range(self.size):
                with self._cond:
                    if self._count >= self.size:
                        return
                    self._count += 1
                try:
                    worker = Worker()
                    worker.wait_ready()
                except Exception:
                    with self._cond:
                        self._count -= 1
                        self._cond.notify()
                    return
                with self._cond:
                    self._idle.append(worker)
                    self._cond.notify()
        threading.Thread(target=start, name="sandbox-warm", daemon=True).start()

    def _acquire(self, deadline: float) -> Worker:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._count -= 1
                if self._count < self.size:
                    self._count += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ScriptTimeout("脚本执行繁忙，请稍后重试 (all script workers busy)", kind="timeout")
                self._cond.wait(remaining)
        try:
            worker = Worker()
            worker.wait_ready()
            return worker
        except BaseException:
            self._discard(None)
            raise

    def _release(self, worker: Worker) -> None:
        if worker.cpu > RECYCLE_CPU:
            self._discard(worker)
            return
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def call(self, request: dict, seconds: float, helpers: dict) -> dict:
        """Run one request; answer the worker's helper calls from ``helpers``. Returns the worker's
        final reply (``ok`` true or false); raises ScriptError when the worker must be given up."""
        deadline = time.monotonic() + seconds + max(MIN_GRACE, seconds * GRACE)
        worker = self._acquire(time.monotonic() + max(seconds, 1.0) * 4)
        try:
            worker.send(request)
            while True:
                reply = worker.receive(deadline)
                if "call" not in reply:
                    break
                worker.send(_run_helper(helpers, reply))
        except TimeoutError:
            self._discard(worker)
            sandbox_breach("time")  # killed: its own tracer did not stop it in time
            raise ScriptTimeout(f"脚本运行超过 {seconds * 1000:.0f} 毫秒，已中止 (time limit exceeded)",
                                kind="timeout") from None
        except codec.Unstorable as exc:
            self._discard(worker)
            sandbox_breach("crash")
            raise WorkerBroken(str(exc)) from None
        except BaseException as exc:
            self._discard(worker)
            if isinstance(exc, WorkerBroken):  # it died (its memory limit, a signal) or answered nonsense
                sandbox_breach("crash")
            raise
        worker.cpu = float(reply.get("cpu") or 0.0)
        breach = _breach(reply)
        if breach:
            sandbox_breach(breach)
        if reply.get("fatal") or not worker.alive:
            self._discard(worker)
        else:
            self._release(worker)
        return reply

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


def _breach(reply: dict) -> str | None:
    """The limit a worker's refusal reports (``time``, ``memory``), None for a script's own error."""
    if reply.get("ok"):
        return None
    kind = reply.get("kind")
    if kind == "timeout":
        return "time"
    if reply.get("fatal") or (kind == "limit" and "memory limit" in str(reply.get("msg") or "")):
        return "memory"
    return None


def _run_helper(helpers: dict, reply: dict) -> dict:
    """A helper the worker asked for, run here with the arguments checked by the helper itself."""
    name, args = reply.get("call"), reply.get("args")
    fn = helpers.get(name) if isinstance(name, str) else None
    if fn is None or not isinstance(args, list) or len(args) > 8:
        return {"err": f"未知的函数 {name!r}"}
    try:
        return {"ret": codec.to_wire(fn(*args), f"{name}() 的值")}
    except ScriptError as exc:
        return {"err": str(exc)}
    except Exception as exc:  # a helper refusing its arguments (ValueError …) or a missing calendar year
        return {"err": f"{name}(): {type(exc).__name__}: {exc}"[:2000]}


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool(size: int = 2) -> Pool:
    """This process's pool (a new one after a fork)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = Pool(size)
            _POOL.warm()
        return _POOL
