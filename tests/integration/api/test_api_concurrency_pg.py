"""On PostgreSQL, the same request posted at once many times: one generation, one debit, one
launch — whether the retries share an Idempotency-Key or the key's credits run out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from vidgen.core.db.models import CreditEntry, Generation

from .conftest import Api

pytestmark = pytest.mark.postgres


async def test_the_same_idempotency_key_posted_concurrently_debits_once(pg_api: Api) -> None:
    key = await pg_api.key(31, free_credits=5)
    responses = await asyncio.gather(
        *(pg_api.post(key.key, prompt="waves", headers={"Idempotency-Key": "same"}) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    async with pg_api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Generation)) == 1
        debits = await session.scalar(
            select(func.count()).select_from(CreditEntry).where(CreditEntry.kind == "debit")
        )
        assert debits == 1
    assert await pg_api.balance(31) == 4
    assert len({s.name for s in pg_api.launcher.launched}) == 1


async def test_concurrent_requests_never_take_the_balance_below_zero(pg_api: Api) -> None:
    key = await pg_api.key(32, free_credits=3)
    responses = await asyncio.gather(*(pg_api.post(key.key, prompt=f"p{i}") for i in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] * 3 + [402] * 5
    assert await pg_api.balance(32) == 0
    async with pg_api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Generation)) == 3
