"""`pip install .` (a wheel) and `pip install -e .` give the same import names."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "vidgen": "vidgen",
    "core": "vidgen/core",
    "bot": "vidgen/bot",
    "operator": "vidgen/operator",
    "runner": "vidgen/runner",
    "analytics": "vidgen/analytics",
    "storage": "vidgen/storage",
    "local": "vidgen/local",
    "api": "vidgen/api",
}


def source_modules() -> set[str]:
    found = set()
    for folder, prefix in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add(f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}")
    return found


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The files of a wheel built from the checkout (built once for this module)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        cwd=out,
    )
    (wheel,) = out.glob("vidgen-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_wheel_has_every_module_under_vidgen(wheel_names: set[str]) -> None:
    names = {n for n in wheel_names if n.endswith(".py")}
    assert source_modules() <= names, sorted(source_modules() - names)
    assert not any(n.startswith(("operator/", "core/", "bot/", "runner/", "analytics/")) for n in names)


def test_wheel_carries_the_package_data(wheel_names: set[str]) -> None:
    # migrations read the Alembic template; migration 0002 and `vidgen analytics provision` read
    # the views' SQL and the Metabase JSON as package data
    data = {
        f"vidgen/analytics/{p.relative_to(ROOT / 'analytics').as_posix()}"
        for pattern in ("sql/*.sql", "metabase/*.json", "metabase/questions/*.json")
        for p in (ROOT / "analytics").glob(pattern)
    }
    assert len(data) >= 12 + 1 + 9
    assert data <= wheel_names, sorted(data - wheel_names)
    assert "vidgen/core/db/migrations/script.py.mako" in wheel_names
    # every process reads the user texts from the gettext catalogues
    catalogues = {
        f"vidgen/core/texts/{p.relative_to(ROOT / 'core' / 'texts').as_posix()}"
        for p in (ROOT / "core" / "texts" / "locales").glob("*/LC_MESSAGES/messages.*")
    }
    assert len(catalogues) == 4 and catalogues <= wheel_names, sorted(catalogues - wheel_names)


def test_editable_install_resolves_the_same_names() -> None:
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    names = sorted(
        p.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for p in source_modules()
        if "/migrations/" not in p and not p.endswith("__main__.py")
    )
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd="/", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
