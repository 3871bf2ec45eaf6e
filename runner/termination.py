"""The result line: one JSON line (≤ 4 KiB, `vidgen.core.result.encode`) written to the
termination-message path, and echoed to stdout for humans and local mode."""

from __future__ import annotations

import sys
from pathlib import Path

from vidgen.core.logging import get_logger
from vidgen.core.result import RunnerResult, encode


def write_result(result: RunnerResult, path: str | Path) -> str:
    line: str = encode(result)
    try:
        Path(path).write_text(line + "\n", encoding="ascii")
    except OSError as exc:
        get_logger("vidgen.runner").warning(
            "termination_log_unwritable", path=str(path), error=type(exc).__name__
        )
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return line
