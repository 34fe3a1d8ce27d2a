"""The layout is the architecture: who may import whom, and how big a piece of code may grow.

hookpipe/ is the core at the bottom and imports nothing above it; ingest/, router/ and deliverer/ each import the
core and nothing else of ours; control/ (the `hookpipe` command and every operator tool) sits on top and is the
one package that may import the services. Pure logic (signature schemes, patterns and transforms, retry math,
signing, breaker and rate-limit state, the event itself) imports no transport library, not even through one of
our modules. Every import counts, also those inside functions, and no two modules import each other in a
cycle. docs/architecture.md opens with the same map.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CORE = "hookpipe"
SERVICES = ("ingest", "router", "deliverer")
CONTROL = "control"
PACKAGES = (CORE, *SERVICES, CONTROL)

#: What each package may import of ours (besides itself).
ALLOWED = {
    CORE: set(),
    **{service: {CORE} for service in SERVICES},
    CONTROL: {CORE, *SERVICES},
}

#: Libraries that talk to the network: pure logic must not reach them, directly or through our modules.
TRANSPORT = ("aio_pika", "aiormq", "pamqp", "aiohttp")

#: Modules (or packages, by prefix) that are pure logic.
PURE = (
    "hookpipe.event",
    "hookpipe.delivery_log",
    "hookpipe.jsonpath",
    "hookpipe.ratelimit",
    "hookpipe.rungs",
    "hookpipe.outcomes",
    "hookpipe.config.units",
    "ingest.verify",
    "router.pattern",
    "router.pattern_events",
    "router.pattern_values",
    "router.matcher",
    "router.transform",
    "router.rules",
    "deliverer.retry",
    "deliverer.signing",
    "deliverer.circuit",
)

#: Lines a class or a function may span, and the ones allowed past it, each with its reason.
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60
ALLOWED_LONG: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path

    @property
    def package(self) -> str:
        return self.name.split(".")[0]

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@cache
def modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = Module(".".join(parts), path)
    return found


@cache
def tree(module: Module) -> ast.Module:
    return ast.parse(module.path.read_text(), str(module.path))


def imported_names(module: Module) -> Iterator[str]:
    """Every module name an import statement of this module names, anywhere in it (functions included);
    `from a import b` yields `a.b` (when b is a module) and `a`."""
    base = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else (node.module or "")
            yield origin
            yield from (f"{origin}.{alias.name}" for alias in node.names)


@cache
def imports_of(name: str) -> frozenset[str]:
    """Our modules this module imports (resolved to the longest known name), and third-party top names."""
    resolved = set()
    for imported in imported_names(modules()[name]):
        if imported.split(".")[0] in PACKAGES:
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules():
                parts.pop()
            if parts and ".".join(parts) != name:
                resolved.add(".".join(parts))
        else:
            resolved.add(imported.split(".")[0])
    return frozenset(resolved)


def reaches(name: str) -> set[str]:
    """Everything this module imports, directly or through our modules."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for imported in imports_of(stack.pop()):
            if imported not in seen:
                seen.add(imported)
                if imported in modules():
                    stack.append(imported)
    return seen


def test_every_package_imports_only_what_lies_below_it() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, module in modules().items()
        for imported in sorted(imports_of(name))
        if imported in modules() and modules()[imported].package not in ALLOWED[module.package] | {module.package}
    ]
    assert wrong == []


def test_pure_logic_reaches_no_transport_library() -> None:
    pure = [name for name in modules() if any(name == p or name.startswith(p + ".") for p in PURE)]
    assert len(pure) >= len(PURE) - 1, sorted(pure)  # the list names modules that exist
    wrong = [f"{name} reaches {library}" for name in pure for library in TRANSPORT if library in reaches(name)]
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {name: {i for i in imports_of(name) if i in modules()} for name in modules()}
    # A package's __init__ naming its own submodules is not a cycle of design; leave those edges out.
    graph = {name: {i for i in edges if not i.startswith(name + ".")} for name, edges in graph.items()}
    cycles = [sorted(component) for component in strongly_connected(graph) if len(component) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for edge in edges:
                if edge not in index:
                    index[edge] = low[edge] = len(index)
                    stack.append(edge)
                    on_stack.add(edge)
                    work.append((edge, iter(sorted(graph[edge]))))
                    break
                if edge in on_stack:
                    low[node] = min(low[node], index[edge])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def long_definitions() -> Iterator[tuple[str, int, int]]:
    """(qualified name, lines, limit) of every class and function past its limit."""
    for name, module in modules().items():
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                yield f"{name}.{node.name}", lines, limit


def test_no_class_or_function_outgrows_its_limit() -> None:
    too_long = [f"{name}: {lines} lines (limit {limit})" for name, lines, limit in long_definitions()
                if name not in ALLOWED_LONG]
    assert too_long == []


@pytest.mark.parametrize("name", sorted(ALLOWED_LONG))
def test_every_allowed_exception_is_still_needed(name: str) -> None:
    assert name in {found for found, _, _ in long_definitions()}, f"{name} is short now: drop it from ALLOWED_LONG"
