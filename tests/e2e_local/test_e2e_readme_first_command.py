"""The README's first command, run in a clean clone of this repository, ends with a playable MP4.

It reuses nothing of this checkout: `git clone` into tmp_path, then the command as the README
shows it, with this process's virtualenv off the PATH and no VIDGEN_* settings — so it creates
its own .venv, installs vidgen, and runs `vidgen generate` on the sample photo (pip's download
cache is the only thing shared). Marked `clean_clone` so it can be deselected; scripts/test runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e_local.kit import ROOT, probe_mp4

pytestmark = [pytest.mark.clean_clone, pytest.mark.timeout(900)]


def first_command(readme: str) -> str:
    """The first command of the Quick start's first code block (without its comment)."""
    quick_start = readme.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", quick_start, re.DOTALL)
    assert block, "no code block under Quick start"
    line = next(ln for ln in block.group(1).splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
    return line.split("#", 1)[0].strip()


def clean_environment() -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIDGEN_", "PYTEST", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def test_first_command_is_the_demo() -> None:
    assert first_command((ROOT / "README.md").read_text()) == "scripts/run"


def test_the_readmes_first_command_in_a_clean_clone_ends_with_a_playable_mp4(tmp_path: Path) -> None:
    clone = tmp_path / "vidgen"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    command = first_command((clone / "README.md").read_text())
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    video = clone / "out" / "cat.mp4"
    assert done.stdout.strip().splitlines()[-1] == str(video)
    assert (clone / ".venv" / "bin" / "vidgen").exists()  # its own installation
    frames, seconds = probe_mp4(video)
    assert 3.5 <= seconds <= 4.5 and frames >= 90  # the demo's 4 s clip at the sandbox's 24 fps
    assert "sandbox provider" in done.stderr and "delivered" in done.stderr
