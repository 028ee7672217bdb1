"""The import graph: ``_core`` is the ground floor, nothing imports in a circle, no private reach-ins.

The graph is read from the source with ``ast``, so every import counts wherever it is written: at
module level, inside a function (a lazy import) or under ``if TYPE_CHECKING:``. Relative imports are
resolved, and ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is one.
The package is not imported, so a broken import cannot hide a finding.

Rules:

* a module in ``losscraft._core`` imports only ``losscraft._core``, the standard library, torch and
  numpy;
* no import cycle between modules (a package ``__init__`` importing its submodules is an edge like
  any other);
* no module imports a ``_private`` name from another losscraft module (dunders such as
  ``__version__`` are public);
* a private module of a loss family (``losses/<family>/_common.py``, ``_robust.py``, ...) is
  imported only from inside that family.

The self-tests at the end feed small synthetic packages through the same functions to show that
each rule can fail.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "losscraft"
CORE = "losscraft._core"
FAMILIES = "losscraft.losses"
CORE_THIRD_PARTY = frozenset({"torch", "numpy"})

Sources = Mapping[str, tuple[bool, str]]
"""Module name -> (is a package ``__init__``, source text)."""


@dataclass(frozen=True)
class Import:
    """One imported thing: ``name`` from module ``target`` (``None``: the module itself)."""

    source: str
    target: str
    name: str | None
    line: int


Graph = dict[str, list[Import]]


# --------------------------------------------------------------------------- building the graph
def read_package(package: str) -> dict[str, tuple[bool, str]]:
    """Every module of an installed package, read from its files without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not a package"
    root = Path(next(iter(spec.submodule_search_locations)))
    out: dict[str, tuple[bool, str]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        out[name] = (is_package, path.read_text(encoding="utf-8"))
    return out


def absolute_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from (``from ..x import y`` in ``a.b.c`` -> ``a.x``)."""
    if node.level == 0:
        return node.module or ""
    here = module.split(".") if is_package else module.split(".")[:-1]
    base = here[: len(here) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, is_package: bool, source: str, modules: Iterable[str]) -> list[Import]:
    """Every import in ``source``, at any depth, with relative names resolved."""
    known = set(modules)
    out: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [Import(module, alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = absolute_base(module, is_package, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # from pkg import submodule
                    out.append(Import(module, sub, None, node.lineno))
                else:
                    out.append(Import(module, base, alias.name, node.lineno))
    return out


def build_graph(sources: Sources) -> Graph:
    """Module -> its imports, for every module in ``sources``."""
    return {m: imports_of(m, is_pkg, text, sources) for m, (is_pkg, text) in sources.items()}


def inside(module: str, package: str) -> bool:
    """``module`` is ``package`` or one of its submodules."""
    return module == package or module.startswith(package + ".")


# --------------------------------------------------------------------------- the rules
def core_violations(graph: Graph, core: str, third_party: frozenset[str] = CORE_THIRD_PARTY) -> list[str]:
    """Imports of a core module that reach outside the core (other than stdlib, torch, numpy)."""
    top = core.split(".")[0]
    bad = []
    for module, imports in sorted(graph.items()):
        if not inside(module, core):
            continue
        for imp in imports:
            root = imp.target.split(".")[0]
            if inside(imp.target, core):
                continue
            if root != top and (root in sys.stdlib_module_names or root in third_party):
                continue
            what = imp.target + (f" [{imp.name}]" if imp.name else "")
            bad.append(f"{module}:{imp.line} imports {what}")
    return bad


def edges(graph: Graph) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the graph: first line importing it}."""
    out: dict[str, dict[str, int]] = {m: {} for m in graph}
    for module, imports in graph.items():
        for imp in sorted(imports, key=lambda i: i.line):
            if imp.target in graph:
                out[module].setdefault(imp.target, imp.line)
    return out


def strongly_connected(adj: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(sorted(component))

    for v in sorted(adj):
        if v not in index:
            visit(v)
    return out


def cycle_through(adj: Mapping[str, Mapping[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle from the component's first module back to it (breadth-first)."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(adj[v]):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no cycle in component {component}")  # pragma: no cover


def import_cycles(graph: Graph) -> list[str]:
    """Each import cycle as ``a:LINE -> b:LINE -> a`` (the line of each import)."""
    adj = edges(graph)
    out = []
    for component in strongly_connected(adj):
        if len(component) == 1 and component[0] not in adj[component[0]]:
            continue
        path = cycle_through(adj, component)
        hops = [f"{a}:{adj[a][b]}" for a, b in itertools.pairwise(path)]
        out.append(" -> ".join([*hops, path[-1]]))
    return out


def private_name_imports(graph: Graph, package: str = PACKAGE) -> list[str]:
    """Imports of a ``_name`` (not a dunder, not a submodule) from another module of ``package``."""
    bad = []
    for module, imports in sorted(graph.items()):
        for imp in imports:
            name = imp.name
            if name is None or not inside(imp.target, package) or imp.target == module:
                continue
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                bad.append(f"{module}:{imp.line} imports {name} from {imp.target}")
    return bad


def family_private_imports(graph: Graph, families: str = FAMILIES) -> list[str]:
    """Imports of a family's private module (``_common``, ...) from outside that family."""
    depth = len(families.split(".")) + 1  # losscraft.losses.<family>
    bad = []
    for module, imports in sorted(graph.items()):
        for imp in imports:
            parts = imp.target.split(".")
            if not inside(imp.target, families) or len(parts) <= depth:
                continue
            if not any(p.startswith("_") and not p.startswith("__") for p in parts[depth:]):
                continue
            family = ".".join(parts[:depth])
            if not inside(module, family):
                bad.append(f"{module}:{imp.line} imports {imp.target} from outside {family}")
    return list(dict.fromkeys(bad))  # one line per import statement, not per name


# --------------------------------------------------------------------------- the package itself
GRAPH = build_graph(read_package(PACKAGE))


def test_the_graph_sees_the_package() -> None:
    assert {"losscraft", "losscraft._core.module", "losscraft.compose"} <= set(GRAPH)
    targets = {imp.target for imp in GRAPH["losscraft._core.module"]}
    assert "losscraft._core.registry" in targets


def test_core_imports_only_core_stdlib_torch_and_numpy() -> None:
    bad = core_violations(GRAPH, CORE)
    assert not bad, "the core imports from above it:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    found = import_cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(found)


def test_no_private_names_imported_across_modules() -> None:
    bad = private_name_imports(GRAPH)
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_family_private_modules_stay_in_their_family() -> None:
    bad = family_private_imports(GRAPH)
    assert not bad, "a family's private module imported from outside it:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- self-tests
def _graph(**modules: str) -> Graph:
    """A synthetic package: keyword ``pkg__a__init`` is the package ``pkg.a``, ``pkg__a__m`` a module."""
    sources: dict[str, tuple[bool, str]] = {}
    for key, text in modules.items():
        parts = key.split("__")
        is_package = parts[-1] == "init"
        sources[".".join(parts[:-1] if is_package else parts)] = (is_package, text)
    return build_graph(sources)


def test_relative_imports_resolve_from_modules_and_packages() -> None:
    g = _graph(
        pkg__init="from . import a\nfrom .a import thing\n",
        pkg__a__init="from ..b import x\n",
        pkg__a__m="from . import n\nfrom ...outside import y\n",
        pkg__a__n="",
        pkg__b="import pkg.a.m as m\n",
    )
    assert [(i.target, i.name) for i in g["pkg"]] == [("pkg.a", None), ("pkg.a", "thing")]
    assert [(i.target, i.name) for i in g["pkg.a"]] == [("pkg.b", "x")]
    assert [(i.target, i.name) for i in g["pkg.a.m"]] == [("pkg.a.n", None), ("outside", "y")]
    assert [(i.target, i.name) for i in g["pkg.b"]] == [("pkg.a.m", None)]


def test_a_cycle_is_found_and_its_path_reported() -> None:
    g = _graph(
        pkg__init="",
        pkg__a="from .b import f\n",
        pkg__b="def g():\n    from .c import h\n",
        pkg__c="from . import a\n",
    )
    assert import_cycles(g) == ["pkg.a:1 -> pkg.b:2 -> pkg.c:1 -> pkg.a"]
    assert import_cycles(_graph(pkg__init="", pkg__a="from .b import f\n", pkg__b="")) == []


def test_a_package_init_importing_its_submodule_is_an_edge() -> None:
    g = _graph(pkg__init="from .a import f\n", pkg__a="from . import VERSION\n")
    assert import_cycles(g) == ["pkg:1 -> pkg.a:1 -> pkg"]


def test_a_core_module_importing_from_above_is_flagged() -> None:
    g = _graph(
        pkg__init="",
        pkg___core__init="",
        pkg___core__m="import math\nimport torch.nn\nimport numpy as np\nfrom . import n\nfrom ..compose import X\n",
        pkg___core__n="import scipy\n",
        pkg__compose="",
    )
    assert core_violations(g, "pkg._core") == [
        "pkg._core.m:5 imports pkg.compose [X]",
        "pkg._core.n:1 imports scipy",
    ]


def test_lazy_and_type_checking_imports_count() -> None:
    g = _graph(
        pkg__init="",
        pkg___core__init="",
        pkg___core__m=(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from ..top import Thing\n"
            "def f():\n"
            "    from pkg import top\n"
        ),
        pkg__top="from ._core.m import f\n",
    )
    assert core_violations(g, "pkg._core") == [
        "pkg._core.m:3 imports pkg.top [Thing]",
        "pkg._core.m:5 imports pkg.top",
    ]
    assert import_cycles(g) == ["pkg._core.m:3 -> pkg.top:1 -> pkg._core.m"]


def test_private_names_are_flagged_but_dunders_and_submodules_are_not() -> None:
    g = _graph(
        pkg__init="",
        pkg__a="from .b import _hidden, public, __version__\nfrom . import _c\nfrom .b import f as _f\n",
        pkg__b="",
        pkg___c="from os import _exit\n",
    )
    assert private_name_imports(g, "pkg") == ["pkg.a:1 imports _hidden from pkg.b"]


def test_a_family_private_module_is_flagged_outside_its_family() -> None:
    g = _graph(
        pkg__init="",
        pkg__losses__init="",
        pkg__losses__x__init="from ._common import c\n",
        pkg__losses__x___common="",
        pkg__losses__x__one="from ._common import c\n",
        pkg__losses__y__init="",
        pkg__losses__y__two="from ..x._common import c, d\nfrom ..x import one\n",
        pkg__top="from .losses.x import _common\n",
    )
    assert family_private_imports(g, "pkg.losses") == [
        "pkg.losses.y.two:1 imports pkg.losses.x._common from outside pkg.losses.x",
        "pkg.top:1 imports pkg.losses.x._common from outside pkg.losses.x",
    ]


def test_the_combination_algebra_keeps_its_public_home() -> None:
    # The algebra lives in _core/combine.py; pickles and class reprs name losscraft.compose.
    import pickle

    import losscraft
    from losscraft import compose

    for name in compose.__all__:
        obj = getattr(compose, name)
        assert not isinstance(obj, type) or obj.__module__ == "losscraft.compose", name
    loss = 0.5 * losscraft.MSELoss() + losscraft.LinearWarmup(0.0, 1.0, 10) * losscraft.MAELoss()
    data = pickle.dumps(loss)
    assert b"losscraft.compose" in data and b"_core.combine" not in data
    assert pickle.loads(data).get_config() == loss.get_config()
