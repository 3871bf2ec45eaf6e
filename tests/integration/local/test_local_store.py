"""`DbGenerationStore` on SQLite and PostgreSQL: a row becomes a generation only when launched
(idempotently), status patches are JSON merge patches that keep the mirror columns and
`settled` equal to the status, and the listing holds only open generations in the scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import update

from tests.conftest import TABLES
from vidgen.core.db import generations as rows
from vidgen.core.db.engine import SessionMaker, make_engine, make_sessionmaker, transaction
from vidgen.core.db.migrate import upgrade
from vidgen.core.db.models import Generation as Row
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec, photo_key
from vidgen.core.status import iso
from vidgen.local.store import DbGenerationStore, NotLaunchable, Scope, mirror_fields


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated SQLite file, or the run's PostgreSQL database emptied."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"
        upgrade(url)
        return url
    url = str(request.getfixturevalue("pg_url"))
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionMaker]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def spec(name: str, user_id: int = 7, **fields: object) -> GenerationSpec:
    values: dict[str, object] = {
        "name": name,
        "user_id": user_id,
        "chat_id": user_id,
        "photo": photo_key(name),
        "prompt": "waves",
        "status_message_id": 77,
        "language": "ru",
        **fields,
    }
    return GenerationSpec(**values)


async def requested(sessions: SessionMaker, s: GenerationSpec) -> None:
    async with transaction(sessions) as session:
        await ensure_user(session, s.user_id, free_credits=2)
        await rows.create_request(session, s, 1)


async def test_a_row_is_a_generation_once_launched_and_launch_is_idempotent(sessions: SessionMaker) -> None:
    store = DbGenerationStore(sessions)
    with pytest.raises(NotLaunchable):
        await store.launch("vg-7-none")
    s = spec("vg-7-a")
    await requested(sessions, s)
    assert await store.get(s.name) is None and await store.list() == []  # not launched yet

    assert await store.launch(s.name) is True
    assert await store.launch(s.name) is False  # a replayed launch (the sweeper's) changes nothing
    gen = await store.get(s.name)
    assert gen is not None and gen.status == {} and gen.phase == "Pending"
    assert (gen.spec.user_id, gen.spec.chat_id, gen.spec.prompt) == (7, 7, "waves")
    assert (gen.spec.status_message_id, gen.spec.language, gen.spec.photo) == (77, "ru", photo_key(s.name))
    assert gen.requested_at is not None and abs(gen.requested_at - datetime.now(UTC).timestamp()) < 60
    assert [g.name for g in await store.list()] == [s.name]


async def test_a_row_refunded_by_the_sweeper_cannot_be_launched(sessions: SessionMaker) -> None:
    store = DbGenerationStore(sessions)
    s = spec("vg-7-b")
    await requested(sessions, s)
    async with transaction(sessions) as session:
        await rows.update_mirror(session, s.name, phase="Failed", refunded=True)
    with pytest.raises(NotLaunchable):
        await store.launch(s.name)


async def test_patches_merge_and_keep_the_mirror_and_settled_in_step(sessions: SessionMaker) -> None:
    store = DbGenerationStore(sessions)
    s = spec("vg-7-c")
    await requested(sessions, s)
    await store.launch(s.name)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
    running = {
        "phase": "Running",
        "attempts": 2,
        "jobName": f"{s.name}-a2",
        "startedAt": iso(now),
        "notBefore": iso(now),
        "error": {"class": "RATE_LIMIT", "code": "provider_429", "message": "slow down"},
    }
    gen = await store.patch_status(s.name, running)
    assert gen is not None and gen.attempts == 2 and gen.job_name == f"{s.name}-a2"
    gen = await store.patch_status(s.name, {"notBefore": None, "result": {"video": "outputs/x.mp4"}})
    assert gen is not None and "notBefore" not in gen.status and gen.status["error"]["code"] == "provider_429"

    async with sessions() as session:
        row = await session.get(Row, s.name)
        assert row is not None
        assert (row.phase, row.attempts, row.job_name, row.error_class, row.error_code) == (
            "Running", 2, f"{s.name}-a2", "RATE_LIMIT", "provider_429",
        )  # fmt: skip
        assert row.not_before is None and row.video_key == "outputs/x.mp4" and row.settled is False
        assert row.started_at is not None and row.started_at.replace(tzinfo=UTC).timestamp() == now

    delivered = {
        "phase": "Delivered",
        "error": None,
        "result": {"telegramFileId": "f1"},
        "finishedAt": iso(now),
    }
    gen = await store.patch_status(s.name, delivered)
    assert gen is not None and gen.settled
    assert gen.result == {"video": "outputs/x.mp4", "telegramFileId": "f1"}
    assert await store.list() == []  # settled: nothing left to do
    assert (await store.get(s.name)) is not None
    async with sessions() as session:
        row = await session.get(Row, s.name)
        assert row is not None and (row.phase, row.settled, row.error_class) == ("Delivered", True, None)
        assert row.telegram_file_id == "f1"
    assert await store.patch_status("vg-7-gone", {"phase": "Queued"}) is None


async def test_scope_only_and_excluded_users(sessions: SessionMaker) -> None:
    for s in (spec("vg-7-d"), spec("vg-8-e", user_id=8), spec("vg-0-f", user_id=0)):
        await requested(sessions, s)
        await DbGenerationStore(sessions).launch(s.name)
    everyone = DbGenerationStore(sessions)
    local = DbGenerationStore(sessions, Scope(exclude_users=frozenset({0})))
    one = DbGenerationStore(sessions, Scope(only=frozenset({"vg-8-e"})))
    assert sorted(g.name for g in await everyone.list()) == ["vg-0-f", "vg-7-d", "vg-8-e"]
    assert sorted(g.name for g in await local.list()) == ["vg-7-d", "vg-8-e"]
    assert [g.name for g in await one.list()] == ["vg-8-e"]
    assert await local.get("vg-0-f") is None and await one.get("vg-7-d") is None
    assert await local.patch_status("vg-0-f", {"phase": "Queued"}) is None  # not its to touch
    assert (await everyone.get("vg-0-f")).phase == "Pending"  # type: ignore[union-attr]


async def test_a_failed_generation_is_open_until_refund_and_notice_are_handled(
    sessions: SessionMaker,
) -> None:
    store = DbGenerationStore(sessions)
    s = spec("vg-7-g")
    await requested(sessions, s)
    await store.launch(s.name)
    await store.patch_status(
        s.name, {"phase": "Failed", "error": {"class": "BILLING", "code": "provider_402"}}
    )
    assert [g.name for g in await store.list()] == [s.name]
    await store.patch_status(
        s.name, {"refunded": True, "conditions": [{"type": "Refunded", "status": "True"}]}
    )
    assert [g.name for g in await store.list()] == [s.name]  # the notice is still to be sent
    await store.patch_status(
        s.name,
        {"conditions": [{"type": "Refunded", "status": "True"}, {"type": "Notified", "status": "True"}]},
    )
    assert await store.list() == []
    async with sessions() as session:
        await session.execute(update(Row).where(Row.name == s.name).values(settled=False))
        await session.commit()
    assert [g.name for g in await store.list()] == [s.name]  # `settled` is what the listing reads


def test_mirror_fields_of_an_empty_status() -> None:
    fields = mirror_fields({})
    assert fields["phase"] == "Pending" and fields["attempts"] == 0 and fields["settled"] is False
    assert fields["refunded"] is False and fields["not_before"] is None and fields["error_class"] is None
