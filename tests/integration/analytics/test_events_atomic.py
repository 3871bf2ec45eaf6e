"""Events are written atomically with their change: a transaction that fails after recording an
event leaves neither the change nor the event (PostgreSQL and SQLite)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import events
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.models import CreditEntry, Event, Generation, Outbox, User
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec


class Boom(Exception):
    pass


@pytest.fixture(params=["postgres", "sqlite"])
def sessions(request: pytest.FixtureRequest) -> SessionMaker:
    if request.param == "postgres":
        return request.getfixturevalue("pg_sessions")  # type: ignore[no-any-return]
    return request.getfixturevalue("sqlite_sessions")  # type: ignore[no-any-return]


async def count(sessions: SessionMaker, model: type, *where: object) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def event_types(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Event.type).order_by(Event.id))).all())


SPEC = GenerationSpec(name="vg-7-req1", user_id=7, chat_id=7, photo="inputs/vg-7-req1.jpg")


async def test_signup_rolled_back_by_an_error_leaves_no_event(sessions: SessionMaker) -> None:
    with pytest.raises(Boom):
        async with transaction(sessions) as s:
            assert (await ensure_user(s, 7, free_credits=2)).created
            assert await event_types(s) == [events.USER_REGISTERED]  # written, not yet committed
            raise Boom
    assert await count(sessions, Event) == 0
    assert await count(sessions, User) == 0
    assert await count(sessions, CreditEntry) == 0

    # and once it commits, the event is there exactly once
    async with transaction(sessions) as s:
        await ensure_user(s, 7, free_credits=2)
    async with transaction(sessions) as s:
        assert not (await ensure_user(s, 7, free_credits=2)).created
    assert await count(sessions, Event, Event.type == events.USER_REGISTERED) == 1


async def test_signup_rolled_back_by_the_database_leaves_no_event(sessions: SessionMaker) -> None:
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            await ensure_user(s, 8, free_credits=2)
            # a later write in the same transaction breaks a constraint (user 999 does not exist)
            s.add(CreditEntry(user_id=999, delta=1, kind="admin_grant", ref="x"))
            await s.flush()
    assert await count(sessions, Event) == 0
    assert await count(sessions, User) == 0


async def test_request_rolled_back_leaves_no_event_no_debit(sessions: SessionMaker) -> None:
    async with transaction(sessions) as s:
        await ensure_user(s, 7, free_credits=2)
    with pytest.raises(Boom):
        async with transaction(sessions) as s:
            balance, created = await create_request(s, SPEC, cost=1)
            assert (balance, created) == (1, True)
            assert (await event_types(s))[-1] == events.GENERATION_REQUESTED
            raise Boom
    assert await count(sessions, Event, Event.type == events.GENERATION_REQUESTED) == 0
    assert await count(sessions, Generation) == 0
    assert await count(sessions, Outbox) == 0
    assert await count(sessions, CreditEntry, CreditEntry.kind == "debit") == 0
    async with sessions() as s:
        assert await s.scalar(select(User.balance).where(User.id == 7)) == 2

    # the retried request commits once, with one event
    for _ in range(2):
        async with transaction(sessions) as s:
            await create_request(s, SPEC, cost=1)
    assert await count(sessions, Event, Event.type == events.GENERATION_REQUESTED) == 1
    assert await count(sessions, CreditEntry, CreditEntry.kind == "debit") == 1
