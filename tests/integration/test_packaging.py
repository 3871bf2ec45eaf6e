"""`pip install .` (a wheel) and `pip install -e .` give the same import names."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "vidgen": "vidgen",
    "core": "vidgen/core",
    "bot": "vidgen/bot",
    "operator": "vidgen/operator",
    "runner": "vidgen/runner",
}


def source_modules() -> set[str]:
    found = set()
    for folder, prefix in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add(f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}")
    return found


def test_wheel_has_every_module_under_vidgen(tmp_path) -> None:
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
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("vidgen-*.whl")
    names = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    assert source_modules() <= names
    assert not any(n.startswith(("operator/", "core/", "bot/", "runner/", "analytics/")) for n in names)
    assert "vidgen/core/db/migrations/script.py.mako" in zipfile.ZipFile(wheel).namelist()


def test_editable_install_resolves_the_same_names() -> None:
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    names = sorted(
        p.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for p in source_modules()
        if "/migrations/" not in p and not p.endswith("__main__.py")
    )
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd="/", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
