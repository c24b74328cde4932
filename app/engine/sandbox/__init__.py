"""The restricted Python in which every script, condition and expression of a process runs.

Compile-time (also used by the deploy checker): RestrictedPython's policy (no dunder names or
attributes, no ``exec``/``eval`` statements) plus ours: no imports, no ``try`` (a script must not be
able to swallow its own time-out), no classes, no ``global``/``nonlocal``, no generators, and no call
of a dangerous builtin (``open``, ``eval``, ``__import__`` …). ``**``, ``*``, ``<<``, ``+`` and ``%``
go through guards that refuse results too large to compute, and every f-string is rebuilt into a
call of :func:`_fstring` so its format specs and its total length are checked before anything is
allocated.

Memory: the time limit cannot stop one C-level call (``'a'.ljust(10**9)`` allocates a gigabyte
in a single step), so every way we know of to make one big allocation is checked *before* it is
made: the operators above, ``format``/``str``/``repr``/``int``/``round``/``sum``, ``print``, and the
padding / ``replace`` / ``expandtabs`` / ``join`` / ``translate`` / ``strftime`` / ``to_bytes``
methods (wrapped by the attribute guard). Text results are capped at :data:`MAX_TEXT` characters,
lists and tuples at :data:`MAX_SEQUENCE` items. As a backstop against many smaller allocations
inside the time limit, the trace function samples the process's resident memory and stops a
script that grew it by more than :data:`MAX_GROWTH_BYTES`.

Loops: a loopCardinality that is not a literal (literals are checked at deploy by the parser) is
checked when the engine evaluates it, before any instance exists (:data:`MAX_INSTANCES`).

Run-time: only the whitelisted helpers (in :mod:`.policy`) exist, attribute access goes through
``safer_getattr`` (plus the size checks above), and a trace function stops the script at its
wall-clock limit. All of this runs in a **worker process** (:mod:`.worker`, managed by :mod:`.pool`)
under operating-system limits — address space, CPU seconds, no file descriptors beyond its pipe —
and the server kills a worker that does not answer in time, so no single call can exceed the time or
memory limit whatever it does. What crosses the pipe is checked both ways (:mod:`.codec`). Any
failure raises :class:`ScriptError`, never anything broader.

Layout: :mod:`.limits` (the limits and :class:`ScriptError`), :mod:`.guards` (the run-time size
guards), :mod:`.policy` (the compile-time policy, the names a script sees, :data:`RESERVED`, the
compile step), :mod:`.tracer` (time and memory limits while running), :mod:`.codec` (values on the
pipe, the storability check), :mod:`.worker` (the worker process's loop and limits), :mod:`.pool`
(the server's side: starting, calling, killing workers) and :mod:`.script_engine` (the SpiffWorkflow
environment and engine). The worker imports only limits, guards, policy, tracer and codec — nothing
of the app.
"""
from .limits import MAX_INSTANCES, MAX_TEXT, ScriptError
from .policy import RESERVED, check_source
from .script_engine import SandboxEnvironment, SandboxScriptEngine

__all__ = ["MAX_INSTANCES", "MAX_TEXT", "RESERVED", "SandboxEnvironment", "SandboxScriptEngine", "ScriptError",
           "check_source"]
