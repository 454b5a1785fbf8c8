"""The code's shape, read from its imports: the library's layers, no cycle, no upward import, modules of a
readable size, and the app's pages and ui/ on top of the library (never the other way round).

Every ``import`` counts, those inside functions too: an import made late still ties two modules together."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The library's layers, lowest first: a module imports only from its own layer and the layers below it.
# (docs/library.md draws the same picture.)
LAYERS = (
    ("foundation", ("digitcnn.errors", "digitcnn.settings", "digitcnn.config", "digitcnn.files",
                    "digitcnn.percentages", "digitcnn.runtime", "digitcnn.processes", "digitcnn.version",
                    "digitcnn.native_logs")),
    ("data", ("digitcnn.data",)),
    ("networks", ("digitcnn.networks",)),
    ("reading", ("digitcnn.reading",)),
    ("training", ("digitcnn.training",)),
    ("storage", ("digitcnn.storage",)),
    ("jobs", ("digitcnn.jobs",)),
    ("uses", ("digitcnn.cli", "digitcnn.comparison", "digitcnn.views", "digitcnn.__main__")),
)
MAX_LINES = 500
LONG_MODULE_REASON = "Why one module:"  # a longer module says why in its docstring, after these words
UI_FOLDERS = ("ui", "pages")


def module_files() -> dict[str, Path]:
    """Every module of the library, the ui and the pages, by its dotted name."""
    found = {}
    for folder in ("digitcnn", *UI_FOLDERS):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    found["streamlit_app"] = ROOT / "streamlit_app.py"
    return found


MODULES = module_files()


def imports_of(name: str) -> set[str]:
    """The project modules ``name`` imports: ``from package import module`` counts as the module,
    ``from package import name`` as the package (its ``__init__``, which runs)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {imported for imported in found if imported in MODULES and imported != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(name: str) -> int | None:
    for rank, (_, members) in enumerate(LAYERS):
        if any(name == member or name.startswith(member + ".") for member in members):
            return rank
    return None


def test_every_library_module_has_a_layer():
    # The package's root (digitcnn/__init__.py) is the public face, above every layer: the version and
    # digitcnn.load, which imports from the layers when it is called. No module of the package imports it.
    library = [name for name in MODULES if name.startswith("digitcnn.")]
    assert [name for name in library if layer_of(name) is None] == []


def test_no_module_of_the_package_imports_its_root():
    assert [name for name, imported in GRAPH.items() if name.startswith("digitcnn.") and "digitcnn" in imported] == []


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{name} ({LAYERS[layer_of(name)][0]}) imports {imported} ({LAYERS[layer_of(imported)][0]})"
              for name, imported_names in GRAPH.items() if layer_of(name) is not None
              for imported in imported_names
              if layer_of(imported) is not None and layer_of(imported) > layer_of(name)]
    assert upward == []


def test_the_library_never_imports_the_app():
    for name in MODULES:
        if name.startswith("digitcnn"):
            tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
            roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
            roots |= {node.module.split(".")[0] for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom) and node.module and not node.level}
            assert not roots & {"streamlit", "ui", "pages", "streamlit_app"}, name


def test_ui_never_imports_a_page():
    assert [(name, imported) for name, imported_names in GRAPH.items() if name.startswith("ui")
            for imported in imported_names if imported.startswith("pages")] == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why_it_is_one(name):
    path = MODULES[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert LONG_MODULE_REASON in docstring, f"{path.relative_to(ROOT)}: {lines} lines, and no reason given"
