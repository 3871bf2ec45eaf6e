"""Architecture contracts, checked statically on the source (import-linter cannot follow the
folder → vidgen.* mapping): core never imports an adapter's framework, and core's decision
modules are pure (no database, no logging, no clock/network libraries)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
FRAMEWORKS = {"kopf", "aiogram", "kubernetes", "httpx", "openai", "aiohttp", "boto3"}
OTHER_PARTS = {
    "vidgen.bot",
    "vidgen.operator",
    "vidgen.runner",
    "vidgen.local",
    "vidgen.analytics",
    "vidgen.api",
}
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


# --- the parts' arrows (issue: core owns the vocabulary) --------------------------------------

ROOT = CORE.parent
#: Processes that run the bot beside other parts: `vidgen local` (the bot and the local controller
#: in one process). They compose parts; nothing else may import the bot.
COMPOSITION_ROOTS = {Path("local/app.py")}
PARTS = ["core", "storage", "runner", "operator", "local", "bot", "analytics", "api"]


def _py_files(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py")) if "__pycache__" not in p.parts]


def _imports_lazily_too(path: Path) -> set[str]:
    """Every absolute import in the file, function-level ones included, with relative imports
    resolved against the file's part (so `from .delivery import x` in operator/ counts)."""
    names = imports(path)
    part = path.relative_to(ROOT).parts[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and len(path.relative_to(ROOT).parts) == 2:
            names.add(f"vidgen.{part}.{node.module}" if node.module else f"vidgen.{part}")
    return names


def _closure(module: str) -> set[str]:
    """The vidgen modules `module` imports, transitively (statically, lazy imports included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith("vidgen."):
            continue
        seen.add(name)
        parts = name.split(".")[1:]
        base = ROOT.joinpath(*parts)
        path = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if not path.exists():
            continue
        todo += [n for n in _imports_lazily_too(path) if n.startswith("vidgen.")]
    return seen


@pytest.mark.parametrize("path", _py_files("core", "storage"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_and_storage_import_no_other_part(path: Path) -> None:
    others = {f"vidgen.{p}" for p in PARTS if p not in ("core", "storage")}
    bad = {n for n in imports(path) if any(n == o or n.startswith(o + ".") for o in others)}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize(
    "module",
    ["vidgen.operator.reconciler", "vidgen.local.generate", "vidgen.local.controller", "vidgen.local.store"],
)
def test_reconciler_and_local_mode_import_no_aiogram_and_no_bot(module: str) -> None:
    closure = _closure(module)
    bot = {m for m in closure if m.startswith("vidgen.bot")}
    assert not bot, f"{module} reaches {bot}"
    framework = {
        f"{m} → {n}"
        for m in closure
        for n in _imports_lazily_too(
            (ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py"))
            if ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py").exists()
            else ROOT.joinpath(*m.split(".")[1:], "__init__.py")
        )
        if n.split(".")[0] == "aiogram"
    }
    assert not framework, framework


@pytest.mark.parametrize(
    "path",
    _py_files("core", "storage", "runner", "operator", "local", "analytics", "api"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nothing_imports_the_bot(path: Path) -> None:
    if path.relative_to(ROOT) in COMPOSITION_ROOTS:
        return
    bad = {n for n in _imports_lazily_too(path) if n == "vidgen.bot" or n.startswith("vidgen.bot.")}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize(
    "path", sorted((CORE / "db" / "migrations" / "versions").glob("*.py")), ids=lambda p: p.name
)
def test_migrations_import_nothing_that_later_code_changes(path: Path) -> None:
    bad = {n for n in imports(path) if n.startswith("vidgen")}
    assert not bad, f"{path.name} imports {bad}: a migration carries its own SQL and schema"
