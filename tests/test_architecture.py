"""How the package's modules depend on each other: one way, and only through
public names (asyncpg's rule: a module that must reach into another's private
attribute is a sign that something wants to be passed in)."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import project_architect_db

PACKAGE = Path(project_architect_db.__file__).parent
ROOT = "project_architect_db"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, list[str]]]:
    """The package modules an import statement loads, with the names it takes."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith(ROOT):
                yield alias.name, []
        return
    if node.level:
        base = package_of(module).split(".")
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if not source.startswith(ROOT):
        return
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in MODULES:
            yield submodule, []
        else:
            yield source, [alias.name]


def imports() -> dict[str, dict[str, list[str]]]:
    graph: dict[str, dict[str, list[str]]] = {}
    for module, path in MODULES.items():
        edges: dict[str, list[str]] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target, names in imported(module, node):
                    edges.setdefault(target, []).extend(names)
        graph[module] = edges
    return graph


def test_the_graph_sees_every_module() -> None:
    graph = imports()
    assert "project_architect_db.core.engine" in graph
    assert "project_architect_db.core.session" in graph["project_architect_db.core.engine"]


def test_no_import_cycle() -> None:
    """Every import counted, TYPE_CHECKING ones too (a cycle hidden from the
    interpreter is still two modules that each need the other)."""
    graph = {module: set(edges) - {module} for module, edges in imports().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        # A package's __init__ re-exporting its modules is the one allowed way up.
        if module not in state:
            visit(module)
    cycles = [
        cycle
        for cycle in cycles
        if not any(
            MODULES[module].name == "__init__.py" and target.startswith(module + ".")
            for module, target in itertools.pairwise(cycle)
        )
    ]
    assert cycles == []


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = [
        f"{module} imports {name} from {source}"
        for module, edges in imports().items()
        for source, names in edges.items()
        for name in names
        if name.startswith("_") and source != module
    ]
    assert offenders == []


def private_names_of(cls: ast.ClassDef) -> set[str]:
    """The private names a class defines: its methods, class attributes and the
    attributes its methods set on ``self``."""
    names: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {name for name in names if name.startswith("_")}


def private_reaches(tree: ast.AST, own: frozenset[str] = frozenset()) -> Iterator[ast.Attribute]:
    """Attribute accesses ``x._name`` outside the class that defines ``_name``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            yield from private_reaches(node, own | private_names_of(node))
            continue
        if isinstance(node, ast.Attribute):
            name = node.attr
            private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
            owner = node.value
            mine = (isinstance(owner, ast.Name) and owner.id in {"self", "cls"}) or (
                isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super"
            )
            if private and not mine and name not in own:
                yield node
        yield from private_reaches(node, own)


def test_no_module_reaches_into_a_private_attribute_of_another_object() -> None:
    """``x._name`` only inside the class that defines ``_name`` (on ``self``, or on
    another instance of that class, as a builder's copy): an object's private
    parts belong to its own class."""
    offenders = [
        f"{module}:{node.lineno}: {ast.unparse(node)}"
        for module, path in MODULES.items()
        for node in private_reaches(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []
