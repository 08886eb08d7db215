"""The house (#30): cnnlab's folders are its architecture, and it stays one a person can hold in their head.

Read from the source with ast, nothing imported: no import circle between cnnlab's modules (imports inside
functions count too: a circle is a circle however late it closes), no module over MAX_MODULE_LINES lines, no
function over MAX_FUNCTION_LINES lines of code, and no module of cnnlab that imports streamlit.
"""

import ast
import pathlib

from conftest import ROOT

PACKAGE = pathlib.Path(ROOT) / "cnnlab"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50  # of code: a docstring is not counted


def modules():
    """{dotted name: path} of every module of cnnlab (a package is its __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported_by_name(node):
    """The module a call such as importlib.import_module("cnnlab.x") or __import__("streamlit") names, or None."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    return node.args[0].value if function in ("import_module", "__import__") else None


def imports_of(path, names):
    """The cnnlab modules one module imports (`from cnnlab.x import y` is cnnlab.x.y when y is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(imported_by_name(node), str):
            found.add(imported_by_name(node))
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cnnlab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnlab") and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in names else node.module)
    return {name for name in found if name in names}


def graph():
    names = modules()
    return {name: imports_of(path, names) for name, path in names.items()}


def circles(edges):
    """Every strongly connected group of more than one module, or one that imports itself (Tarjan)."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_circle_finder_finds_a_circle_and_a_chain_is_none():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert circles({"a": {"a"}}) == [["a"]]


def test_no_module_of_cnnlab_is_in_an_import_circle():
    assert circles(graph()) == []


def test_cnnlab_imports_by_absolute_name_only():
    """A relative import (from ..compute import jobs) would hide an edge from the circle test above."""
    relative = [f"{name}:{node.lineno}" for name, path in modules().items()
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []


def test_no_two_test_modules_share_a_name():
    """Every folder of tests/ is on the path (conftest.py): two test_x.py would shadow each other."""
    names = [path.name for path in pathlib.Path(ROOT, "tests").rglob("*.py") if path.name != "__init__.py"]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_no_folder_of_cnnlab_is_in_an_import_circle_either():
    """The folders are layers: data and networks below training, the run store above it, where trainings run above
    that; a module may import its own folder's modules and those of the layers below, never one above."""
    edges = {}
    for module, imported in graph().items():
        for other in imported:
            folder, other_folder = module.split(".")[:2][-1], other.split(".")[:2][-1]
            if folder != other_folder:
                edges.setdefault(folder, set()).add(other_folder)
    assert edges["compute"] >= {"runs", "training"} and edges["runs"] >= {"training", "data"}
    assert circles(edges) == []


def test_the_layout_is_the_architecture():
    """A newcomer finds the queue, Grad-CAM and the CIFAR-10 archive check by the folders' names."""
    names = modules()
    assert {"cnnlab.data", "cnnlab.networks", "cnnlab.training", "cnnlab.runs", "cnnlab.compute",
            "cnnlab.insight", "cnnlab.course", "cnnlab.cli"} <= set(names)
    assert "class TrainingQueue" in names["cnnlab.compute.jobs"].read_text()
    assert "class GradCam" in names["cnnlab.insight.explain"].read_text()
    assert "def read_arrays" in names["cnnlab.data.archives"].read_text()
    top = {name for name in names if name.count(".") == 1 and not names[name].name == "__init__.py"}
    assert top == {"cnnlab.__main__", "cnnlab.errors", "cnnlab.i18n", "cnnlab.storage"}


def test_no_module_is_longer_than_a_person_can_hold():
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: lines for name, lines in long.items() if lines > MAX_MODULE_LINES} == {}


def code_lines(function):
    """Lines of a function without its docstring."""
    lines = function.end_lineno - function.lineno + 1
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def test_no_function_is_longer_than_a_screen():
    long = {}
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(node) > MAX_FUNCTION_LINES:
                long[f"{name}.{node.name}"] = code_lines(node)
    assert long == {}


def test_cnnlab_never_imports_streamlit():
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            assert str(imported_by_name(node)).split(".")[0] != "streamlit", name
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "streamlit" for a in node.names), name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "streamlit", name
