"""Local-mode end-to-end tests (see kit.py). `-m "not clean_clone"` leaves out the one that
installs vidgen into a fresh clone (about half a minute with a warm pip cache)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clean_clone: runs the README's first command in a fresh git clone (a new .venv)"
    )
