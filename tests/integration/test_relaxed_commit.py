"""A relaxed-commit engine (the bot's) commits without waiting for the WAL flush, except a
transaction that moved money: the ledger makes that commit durable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from vidgen.core import ledger
from vidgen.core.db.engine import make_engine, make_sessionmaker
from vidgen.core.db.sqla_ledger import apply
from vidgen.core.db.users import ensure_user

pytestmark = pytest.mark.postgres


async def test_money_commits_are_durable_on_a_relaxed_engine(pg_url: str, pg_sessions: object) -> None:
    engine = make_engine(pg_url, relaxed_commit=True)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            assert await session.scalar(text("SHOW synchronous_commit")) == "off"
            await ensure_user(session, 4242, free_credits=0)
            assert await session.scalar(text("SHOW synchronous_commit")) == "off"
            await apply(session, ledger.signup_bonus(4242, 3))
            assert await session.scalar(text("SHOW synchronous_commit")) == "on"
            await session.commit()
            # SET LOCAL: the next transaction is relaxed again.
            assert await session.scalar(text("SHOW synchronous_commit")) == "off"
    finally:
        await engine.dispose()
