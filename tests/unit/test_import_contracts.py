"""Architecture contracts, checked statically on the source (import-linter cannot follow the
folder → vidgen.* mapping): core never imports an adapter's framework, and core's decision
modules are pure (no database, no logging, no clock/network libraries)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
FRAMEWORKS = {"kopf", "aiogram", "kubernetes", "httpx", "openai", "aiohttp", "boto3"}
OTHER_PARTS = {"vidgen.bot", "vidgen.operator", "vidgen.runner", "vidgen.local"}
PURE = ["errors.py", "lifecycle.py", "admission.py", "ledger.py", "result.py", "models.py"]
IMPURE_FOR_DECISIONS = {"sqlalchemy", "structlog", "time", "datetime", "asyncio", "os", "socket", "requests"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level and node.module and node.module.startswith("db"):
            names.add("vidgen.core.db")
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_no_adapter_framework(path: Path) -> None:
    bad = {
        n for n in imports(path) if n.split(".")[0] in FRAMEWORKS or any(n.startswith(p) for p in OTHER_PARTS)
    }
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("name", PURE)
def test_decisions_are_pure(name: str) -> None:
    bad = {
        n for n in imports(CORE / name) if n.split(".")[0] in IMPURE_FOR_DECISIONS or n == "vidgen.core.db"
    }
    assert not bad, f"{name} imports {bad}"
