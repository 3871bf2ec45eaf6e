"""The views' SQL and the Metabase JSON ship inside the wheel (migration 0002 and
`vidgen analytics provision` read them as package data)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_wheel_carries_the_sql_and_the_metabase_json(tmp_path: Path) -> None:
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
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {
        f"vidgen/analytics/{p.relative_to(ROOT / 'analytics').as_posix()}"
        for pattern in ("sql/*.sql", "metabase/*.json", "metabase/questions/*.json")
        for p in (ROOT / "analytics").glob(pattern)
    }
    assert len(data) >= 12 + 1 + 9
    assert data <= names, sorted(data - names)
    assert "vidgen/core/db/migrations/versions/0002_analytics_views.py" in names
