"""The services the local controller reuses import neither kopf nor kubernetes (checked on the
source, like core's contracts); only the shell and the adapter do."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OPERATOR = Path(__file__).resolve().parents[3] / "operator"
SHELL = {"handlers.py", "k8s.py", "k8s_launcher.py"}  # the shell and the Kubernetes adapters
FRAMEWORKS = {"kopf", "kubernetes"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level and node.module in ("handlers", "k8s"):
            roots.add(f".{node.module}")
    return roots


@pytest.mark.parametrize(
    "path", sorted(p for p in OPERATOR.glob("*.py") if p.name not in SHELL), ids=lambda p: p.name
)
def test_kopf_free(path: Path) -> None:
    bad = imported_roots(path) & (FRAMEWORKS | {".handlers", ".k8s"})
    if path.name == "cli.py":  # imports the shell lazily, inside its handler only
        tree = ast.parse(path.read_text())
        top = {n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
        assert not any(isinstance(n, ast.ImportFrom) and n.module == "handlers" for n in top)
        return
    assert not bad, f"{path.name} imports {bad}"


def test_the_shell_is_where_kopf_is() -> None:
    assert "kopf" in imported_roots(OPERATOR / "handlers.py")
    assert "kubernetes" in imported_roots(OPERATOR / "k8s.py")
