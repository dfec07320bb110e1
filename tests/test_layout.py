"""The dependency direction risk <- features <- models <- serve (DESIGN §2), and no import
circle between modules, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("risk", "features", "models", "serve")
ALLOWED = {
    "risk": {"risk"},
    "features": {"risk", "features"},
    "models": {"risk", "features", "models"},
    "serve": {"risk", "features", "models", "serve"},
}
COMPOSITION_ROOT = ROOT / "risk" / "cli"  # the `risk` command: one module per command group


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


def test_imported_packages_reads_plain_and_from_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import models.x\nfrom serve.app import y\nimport numpy\n")
    assert imported_packages(probe) == {"models", "serve"}


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path.is_relative_to(COMPOSITION_ROOT):
            continue
        bad = imported_packages(path) - ALLOWED[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, (
        "dependency direction risk <- features <- models <- serve broken:\n" + "\n".join(offenders)
    )


def imported_modules(path: Path) -> set[str]:
    """Every absolute import of the file, lazy and type-checking ones too, as module names
    (`from a.b import c` gives `a.b` and `a.b.c`: c may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module name -> the modules of `packages` it imports."""
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    return {name: (imported_modules(path) & files.keys()) - {name} for name, path in files.items()}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each circle as a path a -> ... -> a (one per module that starts an unvisited one)."""
    circles, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            circles.append(path[path.index(name) :] + [name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return circles


def test_import_circles_are_found_even_through_lazy_imports(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    from pkg.b import g\n")
    (tmp_path / "pkg" / "b.py").write_text("from pkg import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\nimport numpy\n")
    graph = module_graph(tmp_path, ("pkg",))
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg", "pkg.c"},
                     "pkg.c": {"pkg.a"}}  # fmt: skip
    assert import_circles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_no_import_circles():
    circles = import_circles(module_graph(ROOT, PACKAGES))
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_backtest_does_not_import_its_report():
    # The report reads a BacktestResult; the backtest's caller passes the writer in.
    assert "models.report" not in imported_modules(ROOT / "models" / "backtest.py")
