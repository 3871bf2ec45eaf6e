"""What the benchmarks share: the repository on sys.path (they reuse tests/fakes and the test
harnesses), the machine's description, percentiles, and a throw-away PostgreSQL database."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("VIDGEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPUs (nproc), CPU model, load, Python."""
    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load ?"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc={cpus} ({os.cpu_count()} online), {cpu_model()}, {load}, "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mib() -> float:
    """This process's resident set size now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def fresh_database(prefix: str = "vidgen_bench") -> Iterator[str]:
    """A new PostgreSQL database at the Alembic head; dropped afterwards. Yields its URL."""
    import psycopg

    from vidgen.core.db.migrate import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL is needed at {PG_ADMIN}: {exc}") from None
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def quiet_logs(level: str = "WARNING") -> None:
    """Only `level` and above (the runner and the operator log every step at INFO)."""
    import logging

    from vidgen.core.logging import configure_logging

    configure_logging("console", level)
    logging.getLogger().setLevel(level)
    for name in ("kopf", "aiohttp", "httpx", "aiogram", "kmock"):
        logging.getLogger(name).setLevel(level)
