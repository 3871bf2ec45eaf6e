"""Migrations run up and down on both databases, and the models match the migrated schema."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from vidgen.core.db.migrate import downgrade, upgrade
from vidgen.core.db.models import Base

TABLES = {"users", "credit_entries", "generations", "payments", "events", "outbox"}


def _roundtrip(url: str) -> None:
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert TABLES <= set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
    downgrade(url, "base")
    with engine.connect() as conn:
        assert not (TABLES & set(inspect(conn).get_table_names()))
    upgrade(url)
    engine.dispose()


def test_sqlite_up_down_up(tmp_path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_up_down_up(pg_url) -> None:
    name = f"vidgen_mig_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _roundtrip(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_ledger_works_on_sqlite(sqlite_sessions) -> None:
    from vidgen.core.db.engine import transaction
    from vidgen.core.db.sqla_ledger import SqlLedger
    from vidgen.core.db.users import ensure_user
    from vidgen.core.errors import InsufficientCredits

    async with transaction(sqlite_sessions) as s:
        assert (await ensure_user(s, 5, free_credits=2)).created
    async with transaction(sqlite_sessions) as s:
        assert not (await ensure_user(s, 5, free_credits=2)).created
    led = SqlLedger(sqlite_sessions)
    assert await led.debit(5, "vg-5-a") == 1
    assert await led.debit(5, "vg-5-a") == 1
    assert await led.refund("vg-5-a") == 2
    await led.debit(5, "vg-5-b", 2)
    with pytest.raises(InsufficientCredits):
        await led.debit(5, "vg-5-c")
