"""The service's modules import one way: no module imports, directly or through others, a
module that imports it back, and every import is at the top of its module. Read from the
source with `ast`, so a cycle is found even where Python would happen to resolve it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "schemas")


def _modules():
    """{dotted module name: path} of every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name, path, modules):
    """(the modules of the packages that `name` imports, the line numbers of imports that are
    not at its top level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets, nested = set(), []
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        if id(node) not in top_level:
            nested.append(node.lineno)
        targets.update(n for n in names if n in modules and n != name)
    return targets, nested


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycle():
    graph = {name: targets for name, (targets, _) in _graph().items()}
    assert len(graph) > 15 and graph["service.api.datasets"] >= {"service.data", "service.api.common"}
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_database_layer_imports_nothing_above_it():
    graph = {name: targets for name, (targets, _) in _graph().items()}
    assert graph["service.db"] == set()
    assert graph["service.models"] == {"service.db"}
    assert "service.migrations" not in graph["service.data"]


def test_every_import_is_at_the_top_of_its_module():
    nested = {name: lines for name, (_, lines) in _graph().items() if lines}
    assert nested == {}
