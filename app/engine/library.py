"""The process library: shared sub-processes that matters call (``bpmn:callActivity``).

Matters of one family share their common parts — the window's 收件审查 with 一次性告知 and 视为受理,
the countersign with 逾期视为同意, the 处长审核 / 委领导审定 — as processes in ``processes/lib/``,
one executable process per file, its id equal to the file name (``lib_window.bpmn`` holds
``lib_window``). A matter calls one with ``<bpmn:callActivity calledElement="lib_window">``; a
change of the common part is then one edit, deployed as a new version of every matter that calls it
(the library files a matter uses are part of its content hash, and their specs are stored in the
version, so a running case keeps the sub-process it started with).

A library process is checked like a matter's own process (forms, candidate groups, scripts, timers,
deemed steps) when a matter that calls it is checked; its data is the calling case's data (a call
activity without data inputs copies the case's data in and its result back out), so it takes its
parameters from variables the matter sets before the call (e.g. ``division_group`` for
``candidateGroups="${division_group}"``) and leaves its answers (``window_decision``) for the
matter's gateways.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.errors import InvalidModel

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}
#: the folder of the library, relative to the processes folder
LIBRARY_DIR = "lib"


@dataclass(frozen=True)
class LibraryProcess:
    process_id: str
    filename: str
    data: bytes
    root: object        # the parsed bpmn:definitions (lxml element)
    digest: str         # sha256 of the file: part of the content hash of each matter that calls it


@dataclass
class Library:
    """The library's processes, and (``resolver``) the deployed matters a call activity may name: a
    matter called from another file is looked up when first called, its latest version pinned."""
    processes: dict[str, LibraryProcess] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)
    resolver: Callable[[str], LibraryProcess | None] | None = None
    resolved: dict[str, LibraryProcess | None] = field(default_factory=dict)

    def get(self, process_id: str) -> LibraryProcess | None:
        found = self.processes.get(process_id)
        if found is None and self.resolver is not None:
            if process_id not in self.resolved:
                self.resolved[process_id] = self.resolver(process_id)
            found = self.resolved[process_id]
        return found

    def __contains__(self, process_id: str) -> bool:
        """A process of the library folder (not a deployed matter)."""
        return process_id in self.processes

    def known(self) -> dict[str, LibraryProcess]:
        """The library's processes and the deployed matters looked up so far."""
        return {**{k: v for k, v in self.resolved.items() if v is not None}, **self.processes}


EMPTY = Library()


def library_dir(processes_dir: str | Path) -> Path:
    return Path(processes_dir) / LIBRARY_DIR


def load_library(directory: str | Path, parse) -> Library:
    """Read every ``*.bpmn`` of ``directory`` (missing folder: an empty library). ``parse`` is the
    parser's safe XML reader (no DTD, no entities, bounded size). A file that is not valid is listed
    in ``problems`` (file, message) and left out; a matter calling it then fails its check."""
    lib = Library()
    folder = Path(directory)
    if not folder.is_dir():
        return lib
    for path in sorted(folder.glob("*.bpmn")):
        data = path.read_bytes()
        try:
            root = parse(data, f"{LIBRARY_DIR}/{path.name}")
        except InvalidModel as exc:
            lib.problems += exc.errors
            continue
        executable = [p for p in root.findall("bpmn:process", NS) if p.get("isExecutable", "false") == "true"]
        if len(executable) != 1 or executable[0].get("id") != path.stem:
            lib.problems.append({"element": None, "file": f"{LIBRARY_DIR}/{path.name}",
                                 "message": f"公共子流程文件须恰好有一个可执行流程，其标识等于文件名 {path.stem} "
                                            f"(exactly one executable process, id {path.stem!r})"})
            continue
        lib.processes[path.stem] = LibraryProcess(path.stem, f"{LIBRARY_DIR}/{path.name}", data, root,
                                                  hashlib.sha256(data).hexdigest())
    return lib


def called_elements(proc) -> list[tuple[str, str]]:
    """(call activity id, called process id) of every call activity in ``proc``."""
    return [(el.get("id") or "", (el.get("calledElement") or "").strip())
            for el in proc.iter(f"{{{BPMN_NS}}}callActivity")]


def executable_process(lib_process: LibraryProcess):
    return next(p for p in lib_process.root.findall("bpmn:process", NS) if p.get("id") == lib_process.process_id)


def resolve(proc, local_ids: set[str], library: Library) -> tuple[list[LibraryProcess], list[tuple[str, str]]]:
    """The library processes ``proc`` calls, directly or through each other (each once, in the order
    first called), and the (call activity, called id) pairs that name neither a process of the same
    file (``local_ids``) nor one of the library."""
    used: dict[str, LibraryProcess] = {}
    missing: list[tuple[str, str]] = []
    todo = [proc]
    while todo:
        for element, called in called_elements(todo.pop(0)):
            if not called or called in local_ids or called in used:
                continue
            found = library.get(called)
            if found is None:
                missing.append((element, called))
                continue
            used[called] = found
            todo.append(executable_process(found))
    return list(used.values()), missing


def check_recursion(errors: list, filename: str, root, pid: str, library: Library, err) -> None:
    """A call activity that can reach its own process again — directly or through the processes it
    calls — would start sub-processes without end while holding the instance: refused, named by
    the call activity that closes the circle."""
    calls: dict[str, list[tuple[str, str]]] = {}
    for proc in root.findall("bpmn:process", NS):
        calls[proc.get("id") or ""] = called_elements(proc)
    for lib_id, lib_proc in library.known().items():
        calls.setdefault(lib_id, called_elements(executable_process(lib_proc)))
    reported: set[str] = set()
    here = {proc.get("id") or "" for proc in root.findall("bpmn:process", NS)}

    def visit(process: str, path: list[str], entry: str | None) -> None:
        for element, called in calls.get(process, ()):
            # the call activity closing the circle, and the one of this file leading there when the
            # circle closes in another file (a library process, a deployed matter)
            lead = element if process in here else entry
            if called in path:
                circle = " → ".join(path[path.index(called):] + [called])
                for named in dict.fromkeys((element, lead)):
                    if named and named not in reported:
                        reported.add(named)
                        err(errors, named, f"调用活动形成递归调用 (call activity recursion: {circle})", filename)
            elif called in calls:
                visit(called, path + [called], lead)

    visit(pid, [pid], None)
