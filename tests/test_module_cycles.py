"""No import cycles between the project's modules (config and the apps; tests, bench and
migrations left out): a cycle works only as long as the import order happens to suit it, and
breaks, half-initialised, the day someone imports the other end first.

The graph is read statically (ast): every import counts wherever it stands (module level,
function, class, `if TYPE_CHECKING:`), and so does import_module()/import_string() with a
literal name. Each edge goes from the importing file to the module it names:

- `import a.b.c` → `a.b.c`; `from a.b import c` → the submodule `a.b.c` when there is one,
  otherwise `a.b` (for a package: its `__init__.py`); relative imports are resolved first.
- Importing `a.b.c` also runs `a/__init__.py` and `a/b/__init__.py`, but those implicit
  parent-package imports are not edges. A package `__init__` that imports its submodules to
  re-export them (`models/__init__.py` aggregating its models) is therefore no cycle by
  itself: it becomes one only when a submodule imports back into a module that imports it —
  `from returns_mail.models import X` inside `returns_mail/models/segments.py`, or a module
  that does so, names the package `__init__` explicitly and closes the loop.

A cycle is a strongly connected component (Tarjan) of more than one module, or a module that
imports itself; the failure names its modules and one loop through them, file:line per edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "providers", "templates_lib", "returns_mail", "analytics")
# Calls that import the module their first argument names (import_string: up to its last dot).
IMPORTING_CALLS = {"import_module", "__import__"}
IMPORTING_ATTRIBUTE_CALLS = {"import_string"}


@dataclass(frozen=True)
class Edge:
    source: str  # dotted module name of the importing file
    target: str  # dotted module name it imports
    path: str  # the importing file, relative to the project root
    line: int

    def __str__(self) -> str:
        return f"{self.source} → {self.target} ({self.path}:{self.line})"


def project_modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of PACKAGES outside migrations."""
    modules = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = file
    return modules


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal_argument(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) else None
    return None


def _relative_base(module: str, is_package: bool, level: int, name: str | None) -> str:
    """What `from <level dots><name> import ...` names, seen from `module`."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imported_names(
    source: str, module: str, path: str, is_package: bool, known: set[str]
) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of each module `source` imports, resolved as the docstring says."""
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _relative_base(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in known else base), node.lineno
        elif isinstance(node, ast.Call):
            called, literal = _called_name(node), _literal_argument(node)
            if literal is None:
                continue
            if called in IMPORTING_CALLS:
                yield literal, node.lineno
            elif called in IMPORTING_ATTRIBUTE_CALLS:
                yield (literal if literal in known else literal.rpartition(".")[0]), node.lineno


def import_graph() -> dict[str, list[Edge]]:
    """Module → its edges to other project modules (external imports left out)."""
    modules = project_modules()
    known = set(modules)
    graph: dict[str, list[Edge]] = {name: [] for name in modules}
    for name, file in modules.items():
        path = str(file.relative_to(ROOT))
        source = file.read_text(encoding="utf-8")
        is_package = file.name == "__init__.py"
        for target, line in imported_names(source, name, path, is_package, known):
            if target in known:
                graph[name].append(Edge(name, target, path, line))
    return graph


def strongly_connected(graph: dict[str, list[Edge]]) -> list[set[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                visit(edge.target)
                lowlink[node] = min(lowlink[node], lowlink[edge.target])
            elif edge.target in on_stack:
                lowlink[node] = min(lowlink[node], index[edge.target])
        if lowlink[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycles(graph: dict[str, list[Edge]]) -> list[frozenset[str]]:
    """The components that are cycles: more than one module, or one importing itself."""
    return [
        frozenset(component)
        for component in strongly_connected(graph)
        if len(component) > 1
        or any(edge.target in component for node in component for edge in graph[node])
    ]


def one_loop(graph: dict[str, list[Edge]], component: frozenset[str]) -> list[Edge]:
    """A shortest loop from the component's first module back to it (breadth first)."""
    start = min(component)
    came_by: dict[str, Edge] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in sorted(graph[node], key=lambda e: (e.target, e.line)):
            if edge.target not in component:
                continue
            if edge.target == start:
                loop = [edge]
                while loop[0].source != start:
                    loop.insert(0, came_by[loop[0].source])
                return loop
            if edge.target not in came_by:
                came_by[edge.target] = edge
                queue.append(edge.target)
    raise AssertionError(f"{sorted(component)} is not a cycle")


def _describe(graph: dict[str, list[Edge]], component: frozenset[str]) -> str:
    loop = "\n".join(f"      {edge}" for edge in one_loop(graph, component))
    return f"  {sorted(component)}\n    for instance:\n{loop}"


def test_no_import_cycles():
    graph = import_graph()
    found = list(cycles(graph))
    assert not found, "import cycles (make the dependency point one way):\n" + "\n".join(
        _describe(graph, c) for c in found
    )


def test_the_graph_resolves_submodules_packages_and_relative_imports():
    known = {"pkg", "pkg.models", "pkg.models.a", "pkg.models.b", "pkg.util", "pkg.views"}
    source = (
        "import pkg.util\n"
        "from pkg.models import a, Thing\n"
        "from . import b\n"
        "from .. import views\n"
        "from ..util import helper\n"
        "def f():\n"
        "    import_module('pkg.views')\n"
        "    import_string('pkg.util.helper')\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.models.a import A\n"
    )

    found = list(imported_names(source, "pkg.models.c", "pkg/models/c.py", False, known))

    assert sorted(found, key=lambda f: (f[1], f[0])) == [
        ("pkg.util", 1),
        ("pkg.models", 2),
        ("pkg.models.a", 2),
        ("pkg.models.b", 3),
        ("pkg.views", 4),
        ("pkg.util", 5),
        ("pkg.views", 7),
        ("pkg.util", 8),
        ("pkg.models.a", 10),
    ]


def test_a_package_reexporting_its_submodules_is_no_cycle_until_one_imports_it_back():
    def edges(*pairs: str) -> dict[str, list[Edge]]:
        graph: dict[str, list[Edge]] = {}
        for pair in pairs:
            source, target = pair.split(" → ")
            graph.setdefault(source, []).append(Edge(source, target, "x.py", 1))
            graph.setdefault(target, [])
        return graph

    aggregating = edges("pkg.models → pkg.models.a", "pkg.models → pkg.models.b")
    importing_back = edges(
        "pkg.models → pkg.models.a", "pkg.models.a → pkg.rules", "pkg.rules → pkg.models"
    )

    assert cycles(aggregating) == []
    assert cycles(importing_back) == [frozenset({"pkg.models", "pkg.models.a", "pkg.rules"})]
    assert [e.target for e in one_loop(importing_back, cycles(importing_back)[0])] == [
        "pkg.models.a",
        "pkg.rules",
        "pkg.models",
    ]
