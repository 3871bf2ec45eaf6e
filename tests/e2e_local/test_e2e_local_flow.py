"""Local mode end to end, everything real but the outside services: `run_local` (what `vidgen
local` runs: aiogram polling, the local controller, the operator's reconciler, a `vidgen runner`
subprocess per attempt) against the fake Telegram Bot API (served through getUpdates), the fake
KIE.AI and the fake OpenAI. Asserted on what the fake Telegram received and on the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TABLES
from tests.e2e_local.kit import CAT, TelegramUser, books, local_settings, probe_mp4, until, wake
from tests.fakes.kie import FakeKie
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from vidgen.core.db.engine import make_engine, make_sessionmaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.settings import Settings
from vidgen.core.texts import t
from vidgen.local.app import LocalRun, run_local
from vidgen.local.generate import migrate
from vidgen.storage import storage_from_url

USER = 4242


@dataclass
class World:
    tg: FakeTelegram
    kie: FakeKie
    openai: FakeOpenAI
    tmp_path: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeTelegram() as tg, FakeKie(generation_seconds=0.3) as kie, FakeOpenAI() as openai:
        yield World(tg, kie, openai, tmp_path)
        wake(tg)


class Running:
    """`run_local` in a task of the test's loop; `stop()` sets its stop event and returns its report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lines: list[str] = []
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_local(settings, self.stop_event, announce=self.lines.append))

    async def stop(self) -> LocalRun:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, 30)


async def start(world: World, **overrides: Any) -> Running:
    running = Running(local_settings(world.tmp_path, world.tg, world.kie, world.openai, **overrides))
    await until(lambda: any("starting the bot" in line for line in running.lines) or running.task.done(), 30)
    assert not running.task.done(), running.task.exception()
    return running


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite in tmp_path (the default), or the run's PostgreSQL database, emptied."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"
    url = str(request.getfixturevalue("pg_url"))
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return url


async def test_photo_prompt_confirm_delivers_the_video_and_one_credit_is_spent(
    world: World, database_url: str
) -> None:
    running = await start(world, database_url=database_url)
    user = TelegramUser(world.tg, USER)
    try:
        await user.request_video("the cat waves at the camera", message_id=500)
        [video] = await until(user.videos, 40, "the video")
    finally:
        report = await running.stop()

    assert report.interrupted == [] and report.resumed == []
    assert any("provider KIE.AI" in line for line in running.lines)
    uploaded = world.tmp_path / "delivered.mp4"
    uploaded.write_bytes(video.files["video"])
    frames, seconds = probe_mp4(uploaded)
    assert frames > 0 and seconds > 0
    assert video.params["caption"] == t("delivery.caption", "en", balance=1)
    again = video.json("reply_markup")["inline_keyboard"][0][0]["callback_data"]

    ledger = await books(running.settings.database_url, USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    [row] = ledger.generations
    assert again == f"again:{row.name}"
    assert (row.phase, row.attempts, row.settled, row.refunded) == ("Delivered", 1, True, False)
    assert row.status is not None and row.status["phase"] == "Delivered"
    assert row.telegram_file_id and row.video_key == f"outputs/{row.name}.mp4"
    assert world.kie.create_calls == 1 and len(world.openai.requests) == 1
    assert row.enhanced_prompt and "the cat waves at the camera" in row.enhanced_prompt
    # the confirm message became the progress message: edited on each transition
    edits = [
        c.params["text"] for c in user.calls(method="editMessageText") if c.params.get("message_id") == "500"
    ]
    assert t("progress.running", "en", attempt=1) in edits
    assert edits[-1] == t("progress.delivered", "en")


async def test_a_request_whose_launch_was_lost_is_launched_at_the_next_start(world: World) -> None:
    """The bot committed the debit, the row and the outbox row, then the process died before the
    launch: the outbox sweeper of the next `vidgen local` launches it, and it is delivered."""
    settings = local_settings(world.tmp_path, world.tg, world.kie, world.openai, outbox_grace_seconds=0)
    await asyncio.to_thread(migrate, settings.database_url)
    engine = make_engine(settings.database_url)
    name = generation_name(USER, "lostlaunch")
    storage_from_url(settings.storage_url).put(photo_key(name), CAT, "image/jpeg")
    spec = GenerationSpec(name=name, user_id=USER, chat_id=USER, photo=photo_key(name), status_message_id=321)
    async with transaction(make_sessionmaker(engine)) as session:
        await ensure_user(session, USER, free_credits=2)
        await create_request(session, spec, 1)
    await engine.dispose()

    running = Running(settings)
    user = TelegramUser(world.tg, USER)
    try:
        await until(user.videos, 40, "the video of the lost launch")
    finally:
        await running.stop()
    ledger = await books(settings.database_url, USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    assert [(row.name, row.phase) for row in ledger.generations] == [(name, "Delivered")]


async def test_content_policy_refusal_refunds_and_says_why(world: World) -> None:
    world.kie.fail_next_tasks(1, fail_msg="The image violates our content policy", fail_code="501")
    running = await start(world)
    user = TelegramUser(world.tg, USER)
    try:
        await user.request_video("make her dance", message_id=600)
        notice = t("error.user_violation", "en") + "\n" + t("refund.balance", "en", balance=2)
        await until(lambda: notice in user.texts(), 40, "the failure message")
    finally:
        await running.stop()

    ledger = await books(running.settings.database_url, USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (2, 1, 1)
    [row] = ledger.generations
    assert (row.phase, row.error_class, row.refunded, row.settled) == ("Failed", "USER_VIOLATION", True, True)
    assert row.attempts == 1 and world.kie.create_calls == 1  # a refusal is final: no retry
    assert user.texts().count(notice) == 1 and user.videos() == []
    progress = t("progress.failed", "en", reason=t("error.user_violation", "en"))
    assert progress in user.texts()


async def test_rate_limit_near_misses_are_absorbed_by_the_attempt(world: World) -> None:
    """Issue 12, point 1: a 429 on createTask was neither kept nor paid; the runner waits it out
    within the attempt (bounded by about one provider window), so no attempt is spent on it."""
    world.kie.fail("createTask", times=3, code=429, msg="Rate limited: too many requests")
    running = await start(world)
    user = TelegramUser(world.tg, USER)
    try:
        await user.request_video("slow zoom", message_id=700)
        await until(user.videos, 60, "the video after the retries")
    finally:
        await running.stop()

    ledger = await books(running.settings.database_url, USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    [row] = ledger.generations
    assert (row.phase, row.attempts) == ("Delivered", 1)
    assert world.kie.create_calls == 4  # three refused, one accepted: one task made
    assert len(world.kie.tasks) == 1
    assert t("progress.queued_retry", "en", attempt=2, position=1) not in user.texts()
    assert len(user.videos()) == 1
