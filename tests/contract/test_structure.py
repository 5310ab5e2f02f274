"""Structure rules of issue 12: no runtime module over 450 lines, no import cycle in console/ or bot/.

The line limit holds for the browser JavaScript too: the console UI (console/static/app, its ES
modules and app.js) and the website widget (console/static/widget); vendored libraries are not ours.

Modules that do one job stay short, and a package whose modules import each other in a circle
works only by the accident of import order. Both rules are checked on the source with `ast`
(no imports run), and each checker is first shown to catch a planted violation.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Python that runs in production: both runtimes, the contract, the channels (the widget's server is
#: connectors/widget.py and connectors/widget_protocol/).
RUNTIME_PACKAGES = ("bot", "actions", "connectors", "console", "billing_service", "billing_client",
                    "heatdesk_contract")
#: Browser JavaScript that runs in production (vendor/ folders excluded).
RUNTIME_SCRIPT_DIRS = ("console/static/app", "console/static/widget")
MAX_LINES = 450
ACYCLIC_PACKAGES = ("console", "bot")


def python_files(root: Path, package: str) -> Iterator[Path]:
    for path in sorted((root / package).rglob("*.py")):
        if "__pycache__" not in path.parts and "node_modules" not in path.parts:
            yield path


def script_files(root: Path, folder: str) -> Iterator[Path]:
    for path in sorted((root / folder).rglob("*.js")):
        if "vendor" not in path.relative_to(root / folder).parts and "node_modules" not in path.parts:
            yield path


def _over(root: Path, paths: Iterable[Path], limit: int) -> Dict[str, int]:
    counts = {}
    for path in paths:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            counts[path.relative_to(root).as_posix()] = lines
    return counts


def too_long(root: Path, packages: tuple[str, ...], limit: int = MAX_LINES) -> Dict[str, int]:
    """Runtime modules over the limit, with their line counts."""
    return _over(root, (path for package in packages for path in python_files(root, package)), limit)


def scripts_too_long(root: Path, folders: tuple[str, ...], limit: int = MAX_LINES) -> Dict[str, int]:
    """Browser scripts over the limit (vendored ones left out), with their line counts."""
    return _over(root, (path for folder in folders for path in script_files(root, folder)), limit)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: top level, and inside top-level if/try (not TYPE_CHECKING)."""
    pending: List[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)


def import_graph(root: Path, package: str) -> Dict[str, Set[str]]:
    """Module → the modules of the same package it imports at module level."""
    paths = {module_name(root, path): path for path in python_files(root, package)}
    graph: Dict[str, Set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base for alias in node.names]
            for target in targets:
                while target and target not in paths:  # `import console.services.x` names a module or its parent
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_no_runtime_module_is_over_450_lines() -> None:
    assert too_long(ROOT, RUNTIME_PACKAGES) == {}


def test_no_browser_script_is_over_450_lines() -> None:
    scripts = [path for folder in RUNTIME_SCRIPT_DIRS for path in script_files(ROOT, folder)]
    names = {path.relative_to(ROOT).as_posix() for path in scripts}
    # The walk really read both front ends, and left the vendored bundles out.
    assert {"console/static/app/js/views/ticket.js", "console/static/widget/heatdesk-widget.js"} <= names
    assert not any("/vendor/" in name for name in names)
    assert scripts_too_long(ROOT, RUNTIME_SCRIPT_DIRS) == {}


@pytest.mark.parametrize("package", ACYCLIC_PACKAGES)
def test_the_import_graph_has_no_cycle(package: str) -> None:
    graph = import_graph(ROOT, package)
    assert len(graph) > 5 and any(graph.values())  # the walk really read the package
    assert find_cycle(graph) is None


def _plant(root: Path, files: Dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checkers_catch_a_planted_cycle_and_long_modules(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from .. import a\n",
        "pkg/b.py": "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
                    "def f():\n    from pkg import a\ntry:\n    from pkg.sub import c\nexcept ImportError:\n    pass\n",
        "pkg/long.py": "x = 1\n" * (MAX_LINES + 1),
        "web/app.js": "let x = 1;\n" * MAX_LINES,
        "web/views/long.js": "x += 1;\n" * (MAX_LINES + 1),
        "web/vendor/lib.min.js": "x;\n" * (MAX_LINES + 1),
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.b"] == {"pkg.sub.c"}  # neither the TYPE_CHECKING nor the function-level import
    assert graph["pkg.sub.c"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    assert too_long(tmp_path, ("pkg",)) == {"pkg/long.py": MAX_LINES + 1}
    assert scripts_too_long(tmp_path, ("web",)) == {"web/views/long.js": MAX_LINES + 1}  # not vendor/, not 450
    (tmp_path / "pkg/sub/c.py").write_text("import pkg\n", encoding="utf-8")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None
