"""Shared fixtures: a fresh PostgreSQL database per test run (migrated by Alembic), and async
sessions over it. PostgreSQL is expected on 127.0.0.1:5432 (`.ci/run` starts it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from vidgen.core.db.engine import SessionMaker, make_engine, make_sessionmaker
from vidgen.core.db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PG_ADMIN = os.environ.get("VIDGEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ["events", "outbox", "payments", "credit_entries", "generations", "users", "telegram_updates"]


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this run, at the Alembic head; dropped afterwards."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}")
    name = f"vidgen_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_sessions(pg_url: str) -> AsyncIterator[SessionMaker]:
    """Sessions on the run's PostgreSQL database, emptied before each test."""
    engine = make_engine(pg_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[SessionMaker]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()
