"""The core's imports go one way: Tensor <- autograd <- ops <- nn. A cycle through the tape
would make the import order matter again (modules half-initialized, names injected later)."""
import ast
import pathlib

import cylayers

PACKAGE = pathlib.Path(cylayers.__file__).parent


def _module_names():
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def _imported(module, node, names):
    """Modules an import statement loads (function-level imports included): each named module
    and the packages above it, except the importer's own packages (already loading)."""
    if isinstance(node, ast.ImportFrom):
        if node.level or not (node.module or "").startswith("cylayers"):
            return set()
        subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in names]
        targets = subs or [node.module]
    elif isinstance(node, ast.Import):
        targets = [a.name for a in node.names if a.name.startswith("cylayers")]
    else:
        return set()
    found = set()
    for target in targets:
        parts = target.split(".")
        for k in range(2, len(parts) + 1):
            pkg = ".".join(parts[:k])
            if pkg in names and (pkg == target or not module.startswith(pkg + ".")):
                found.add(pkg)
    found.discard(module)
    return found


def import_graph():
    names = _module_names()
    graph = {}
    for module, path in names.items():
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            graph[module] |= _imported(module, node, names)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_graph_finds_a_cycle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]


def test_the_graph_sees_function_level_and_package_imports():
    graph = import_graph()
    # package: importing a submodule of cylayers.autograd from outside runs
    # cylayers/autograd/__init__.py; function level: export loads the exporters when called
    assert "cylayers.autograd.function" in graph["cylayers.nn.functional.linear"]
    assert "cylayers.autograd" in graph["cylayers.nn.functional.linear"]
    assert "cylayers.onnx.ops" in graph["cylayers.onnx.export"]
    assert "cylayers.autograd" not in graph["cylayers.autograd.function"]


def test_no_import_cycle_through_the_core_or_nn():
    """Tensor, its methods, the core ops and the tape never import a layer above them (nn, data,
    the package root), so none of them, nor nn itself, is on an import cycle."""
    core = ("cylayers._tensor", "cylayers._tensor_base", "cylayers._tensor_arithmetic",
            "cylayers._tensor_math", "cylayers._tensor_reductions", "cylayers._tensor_shape",
            "cylayers._tensor_inplace", "cylayers._tensor_conversions",
            "cylayers._tensor_autograd", "cylayers._grad_state", "cylayers._ops",
            "cylayers.autograd", "cylayers.device", "cylayers._dtype", "cylayers.random",
            "cylayers.nn")
    in_core = [m for m in import_graph() if m in core or m.startswith(tuple(c + "." for c in core))]
    assert len(in_core) > 50
    for component in cycles(import_graph()):
        assert not component.intersection(in_core), sorted(component)


def test_no_import_cycle_anywhere():
    """Beyond the core: the exporter's graph, ops and replay import one way too (graph <- ops
    <- replay <- export), as does every other package."""
    assert cycles(import_graph()) == []
