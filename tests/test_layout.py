"""The dependency direction risk <- features <- models <- serve (DESIGN §2), checked on the source."""

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
COMPOSITION_ROOT = ROOT / "risk" / "cli.py"


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
        if path == COMPOSITION_ROOT:
            continue
        bad = imported_packages(path) - ALLOWED[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, (
        "dependency direction risk <- features <- models <- serve broken:\n" + "\n".join(offenders)
    )
