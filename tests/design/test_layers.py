"""The harness's layers, read from its own source: no import circles, nothing imports upward.

Every import counts: at the top of a module, under ``TYPE_CHECKING`` and
inside functions. A module may import its own layer or lower ones; the
shipped systems (``harness.systems.*``) are reached only by name, and the
services only from a shipped system's own folder.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Each layer of ``harness/``, lowest first; a module belongs to the longest prefix listed.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("harness.errors", "harness.exit_codes"),
    ("harness.model",),
    ("harness.contracts", "harness.infra"),
    (
        "harness.verdict",
        "harness.toxiproxy",
        "harness.loadgen",
        "harness.flood",
        "harness.journeys",
        "harness.adapters",
        "harness.plugins",
    ),
    ("harness.files", "harness.library"),
    ("harness.stack",),
    ("harness.backends",),
    ("harness.experiment",),
    ("harness.explore", "harness.report"),
    (
        "harness.cli",
        "harness.commands",
        "harness.pytest_plugin",
        "harness.failure_story",
        "harness",
        "harness.systems",
    ),
)


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = {**_modules("harness"), **_modules("services")}


def _imports(module: str) -> Iterator[str]:
    """Every module of ``harness`` or ``services`` that ``module`` imports, anywhere."""
    path = MODULES[module]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if path.name == "__init__.py" else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            known = name
            while known and known not in MODULES:
                known = known.rpartition(".")[0]
            # A package's own re-exports are not an edge out of the package.
            if known and known != module and not module.startswith(known + "."):
                yield known


GRAPH = {module: set(_imports(module)) for module in MODULES}


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if prefix == "harness" and module != "harness":
                    continue  # only the package's own __init__ is the public face
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_finder_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_harness_and_services_have_no_import_circle() -> None:
    found = circles(GRAPH)
    described = [
        " -> ".join(c)
        + ": "
        + "; ".join(f"{a} imports {b}" for a in c for b in sorted(GRAPH[a]) if b in c)
        for c in found
    ]
    assert not found, "import circles:\n" + "\n".join(described)


def test_every_harness_module_has_a_layer() -> None:
    unplaced = sorted(m for m in MODULES if m.startswith("harness") and layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS): {unplaced}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module, imported in sorted(GRAPH.items()):
        own = layer_of(module)
        if own is None:
            continue
        for target in sorted(imported):
            theirs = layer_of(target)
            if theirs is not None and theirs > own and not target.startswith("harness.systems"):
                upward.append(f"{module} (layer {own}) imports {target} (layer {theirs})")
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


def test_shipped_systems_are_reached_only_by_name() -> None:
    reaching = sorted(
        f"{module} imports {target}"
        for module, imported in GRAPH.items()
        if not module.startswith("harness.systems.")
        for target in imported
        if target.startswith("harness.systems.")
    )
    assert not reaching, "\n".join(reaching)


def test_only_a_shipped_system_imports_the_services() -> None:
    reaching = sorted(
        f"{module} imports {target}"
        for module, imported in GRAPH.items()
        if module.startswith("harness") and not module.startswith("harness.systems.")
        for target in imported
        if target.split(".")[0] == "services"
    )
    assert not reaching, "\n".join(reaching)
