"""Dockerfile.bot (no Docker here to build it): non-root, both extras, every source folder that
setup.py maps is copied in, and the entry point is the `vidgen` command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile.bot").read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def test_runs_as_a_non_root_user() -> None:
    [user] = instructions("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_installs_the_bot_and_operator_extras() -> None:
    assert '".[bot,operator,api]"' in DOCKERFILE and "o['bot'] + o['operator'] + o['api']" in DOCKERFILE


def test_copies_every_folder_setup_py_maps() -> None:
    mapped = set(re.findall(r'"vidgen[.a-z]*": "([a-z]+)"', (ROOT / "setup.py").read_text()))
    copied = {line.split()[0] for line in instructions("COPY") if not line.startswith("--from")}
    assert mapped <= copied, mapped - copied


def test_entry_point() -> None:
    assert instructions("ENTRYPOINT") == ['["vidgen"]'] and instructions("CMD") == ['["bot"]']
