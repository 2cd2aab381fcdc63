"""The import contract: modules follow the pipeline, every import pointing down, no cycle.

Layers, lowest first (docs/api.md): leaf modules → data → estimate → factors →
scenario → optimize → rebalance → account → workflows → report | jobs → cli | api | web. A module
may import its own layer and the layers below; report and jobs stay independent of each
other, and so do cli and api. Imports are read from the source with ``ast`` (every
``import`` statement, including those inside functions, since a lazy import is still a
dependency); the cycle check reads the run-time imports (those under
``if TYPE_CHECKING:`` are annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optimizer"

LEAVES = (
    "errors",
    "config",
    "files",
    "atomic",
    "jsonable",
    "csvout",
    "tickers",
    "limits",
    "allocator",
    "lazy",
)
LAYERS: tuple[tuple[str, ...], ...] = (
    tuple(f"optimizer.{m}" for m in (*LEAVES, "highs", "frequency")),
    ("optimizer.data",),
    ("optimizer.estimate",),
    ("optimizer.factors",),
    ("optimizer.scenario", "optimizer.scenarios", "optimizer.views"),
    ("optimizer.optimize",),
    ("optimizer.rebalance",),
    ("optimizer.account",),
    ("optimizer.workflows",),
    ("optimizer.report", "optimizer.jobs", "optimizer.backtest"),
    ("optimizer.cli", "optimizer.api", "optimizer.web", "optimizer.__main__"),
)
INDEPENDENT = (
    ("optimizer.report", "optimizer.jobs"),
    ("optimizer.cli", "optimizer.api"),
    ("optimizer.web", "optimizer.api"),
)

# Known upward imports, each with its reason; the list may only shrink.
ALLOWED_UP = {
    ("optimizer.workflows", "optimizer.jobs.model"): "process_account, the monthly job's "
    "default per-account pipeline, returns the job's AccountOutcome",
    ("optimizer.workflows", "optimizer.report"): "propose(out_dir=...) renders report.html "
    "into the proposal's file set",
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(module: str) -> dict[str, bool]:
    """Modules of the package ``module`` imports -> whether at run time."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        for target in targets:
            if target == "optimizer" or not target.startswith("optimizer."):
                continue
            dep = _resolve(target)
            if dep != module:
                found[dep] = found.get(dep, False) or id(node) not in typing_only
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> tuple[int, str] | None:
    hits = [
        (i, unit)
        for i, units in enumerate(LAYERS)
        for unit in units
        if module == unit or module.startswith(unit + ".")
    ]
    return max(hits, key=lambda h: len(h[1])) if hits else None


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if m != "optimizer" and _layer(m) is None]
    assert not missing, f"add these modules to a layer of tests/test_layers.py: {missing}"


def test_no_import_goes_up():
    bad = []
    for module, deps in GRAPH.items():
        if module == "optimizer":  # the front door: lazy attribute imports only
            continue
        here = _layer(module)
        for dep in deps:
            there = _layer(dep)
            if there[0] > here[0] and not _allowed(module, dep):
                bad.append(f"{module} (layer {here[1]}) imports {dep} (layer {there[1]})")
    assert not bad, "\n".join(bad)


def _allowed(module: str, dep: str) -> bool:
    return any(
        (module == a or module.startswith(a + ".")) and (dep == b or dep.startswith(b + "."))
        for a, b in ALLOWED_UP
    )


def test_allowed_exceptions_are_still_needed():
    used = {
        (a, b)
        for a, b in ALLOWED_UP
        for module, deps in GRAPH.items()
        if module == a or module.startswith(a + ".")
        for dep in deps
        if dep == b or dep.startswith(b + ".")
    }
    assert used == set(ALLOWED_UP), f"remove from ALLOWED_UP: {set(ALLOWED_UP) - used}"


@pytest.mark.parametrize("pair", INDEPENDENT, ids=lambda p: " vs ".join(p))
def test_siblings_stay_independent(pair):
    a, b = pair
    inside = lambda m, unit: m == unit or m.startswith(unit + ".")  # noqa: E731
    bad = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        for d in deps
        if (inside(m, a) and inside(d, b)) or (inside(m, b) and inside(d, a))
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    runtime = {m: [d for d, rt in deps.items() if rt] for m, deps in GRAPH.items()}
    cycles = _cycles(runtime)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_checks_see_a_planted_cycle_and_an_upward_import():
    """The contract would fail: a cycle and an upward import are found when present."""
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["c", "b", "a"]]
    assert _layer("optimizer.rebalance.plan")[0] > _layer("optimizer.optimize.core")[0]
    assert _layer("optimizer.estimate")[0] < _layer("optimizer.scenario.build")[0]
    assert "optimizer.rebalance.problem" in GRAPH["optimizer.rebalance.bound"]


def test_a_lazily_exported_name_is_never_shadowed_by_a_submodule():
    """A package that imports its names on first use (PEP 562) hands out what its
    ``__getattr__`` says even after a submodule of the same name was imported (the import
    system sets that submodule as the package's attribute)."""
    import importlib

    for package in ("optimizer", "optimizer.data"):
        mod = importlib.import_module(package)
        folder = PACKAGE.parent / package.replace(".", "/")
        for name in mod.__all__:
            if not (folder / f"{name}.py").is_file() and not (folder / name).is_dir():
                continue
            importlib.import_module(f"{package}.{name}")
            assert getattr(mod, name) is mod.__getattr__(name), f"{package}.{name}"
