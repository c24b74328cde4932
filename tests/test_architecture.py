"""The shape of the code (issue 11): app/services has no import cycle and imports nothing inside a
function body (outside the allow-list below), no module of app/ passes 600 lines, and the
import-linter contracts of pyproject.toml hold. The checks are tried on small made-up packages
first, so a check that could never fail would fail here."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600

#: Function-local imports allowed in app/services: third-party libraries loaded on first use, so
#: that a web worker, the scheduler or a CLI command that never sends an SMS, renders a receipt or
#: seeds a calendar does not pay for importing them. Never a module of ``app``.
LAZY_THIRD_PARTY = {
    "twilio": "the SMS sender only (app/services/messaging/sms.py)",
    "reportlab": "the receipt PDF only (app/services/portal/receipts.py)",
    "segno": "the receipt's QR code only (app/services/portal/receipts.py)",
    "chinese_calendar": "seeding the calendar from the package (app/services/clocks/calendar.py)",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(module: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The modules of ``known`` that an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    out = []
    for alias in node.names:
        full = f"{name}.{alias.name}"
        if full in known:
            out.append(full)
        elif name in known:
            out.append(name)
    return out


def import_graph(package_dir: Path, root: Path) -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """(module → modules of the package it imports, [(file, line, statement) of every import inside a
    function body])."""
    files = {_module_name(p, root): p for p in package_dir.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {m: set() for m in files}
    local: list[tuple[str, int, str]] = []
    for module, path in files.items():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module].update(t for t in _targets(module, path.name == "__init__.py", node, known)
                                     if t != module)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        local.append((str(path.relative_to(root)), inner.lineno, ast.unparse(inner)))
    return graph, sorted(set(local))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def disallowed_local_imports(local: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    bad = []
    for path, line, stmt in local:
        tree = ast.parse(stmt).body[0]
        names = [tree.module or ""] if isinstance(tree, ast.ImportFrom) else [a.name for a in tree.names]
        relative = isinstance(tree, ast.ImportFrom) and tree.level > 0
        if relative or any(n.split(".")[0] not in LAZY_THIRD_PARTY for n in names):
            bad.append((path, line, stmt))
    return bad


# -- the checks, on made-up packages ----------------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root / "pkg"


def test_the_checks_find_a_cycle_and_a_local_import(tmp_path):
    pkg = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a/__init__.py": "",
        "pkg/a/x.py": "from ..b import y\n",
        "pkg/b/__init__.py": "",
        "pkg/b/y.py": "def f():\n    from ..a import x\n    import twilio.rest\n    import json\n",
        "pkg/b/z.py": "from . import y\n",
    })
    graph, local = import_graph(pkg, tmp_path)
    assert graph["pkg.a.x"] == {"pkg.b.y"} and graph["pkg.b.z"] == {"pkg.b.y"}
    assert cycles(graph) == [["pkg.a.x", "pkg.b.y"]]
    assert [stmt for _, _, stmt in disallowed_local_imports(local)] == ["from ..a import x", "import json"]


def test_the_checks_pass_an_acyclic_package(tmp_path):
    pkg = _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from . import b\n", "pkg/b.py": "import os\n"})
    graph, local = import_graph(pkg, tmp_path)
    assert cycles(graph) == [] and local == []


# -- the checks, on app/ ----------------------------------------------------------------------------
def test_services_have_no_import_cycle_and_no_function_local_import():
    graph, local = import_graph(ROOT / "app" / "services", ROOT)
    assert len(graph) > 40
    assert cycles(graph) == []
    assert disallowed_local_imports(local) == []


def test_every_service_module_sits_in_a_wing():
    services = ROOT / "app" / "services"
    loose = [p.name for p in services.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], "a module of app/services belongs in a wing (see app/services/__init__.py)"
    for wing in (p for p in services.iterdir() if p.is_dir() and p.name != "__pycache__"):
        doc = ast.get_docstring(ast.parse((wing / "__init__.py").read_text("utf-8")))
        assert doc and len(doc) > 80, f"{wing.name}/__init__.py says what the wing owns and may import"


def test_no_module_of_app_passes_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "app").rglob("*.py")
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_import_contracts_hold():
    out = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout and "Service wings" in out.stdout
