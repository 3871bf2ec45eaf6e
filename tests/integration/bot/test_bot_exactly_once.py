"""Replays and races never move money twice: the same update delivered twice, Confirm pressed
twice at once, /start racing itself."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import USER, Harness, make_harness
from vidgen.core.db.engine import SessionMaker
from vidgen.core.texts import t


async def test_the_same_start_update_twice_grants_once(harness: Harness) -> None:
    update = harness.stamp(harness.tg.text_update(USER, "/start"))
    await harness.feed(copy.deepcopy(update))
    await harness.feed(copy.deepcopy(update))
    assert await harness.balance(USER) == 2
    assert len(await harness.entries(USER, "signup_bonus")) == 1


async def test_concurrent_start_updates_grant_once(harness: Harness) -> None:
    await asyncio.gather(*(harness.text(USER, "/start") for _ in range(5)))
    assert await harness.balance(USER) == 2
    assert len(await harness.entries(USER)) == 1
    assert len(await harness.events("user_registered")) == 1


async def test_the_same_confirm_update_twice_debits_once(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    update = harness.stamp(harness.tg.callback_update(USER, confirm, message_id=500))
    await harness.feed(copy.deepcopy(update))
    await harness.feed(copy.deepcopy(update))
    assert await harness.balance(USER) == 1
    assert len(await harness.entries(USER, "debit")) == 1
    assert len(harness.launcher.specs) == 1 and len(await harness.generations()) == 1
    # The second delivery of the same update_id is skipped before any handler runs.
    assert harness.answers()[-1]["text"] == t("create.accepted", "en", balance=1)
    progress = [
        c for c in harness.tg.calls_to("editMessageText") if c.params["text"] == t("progress.pending", "en")
    ]
    assert len(progress) == 1  # one progress message, not two


class BarrierStorage(MemoryStorage):
    """Conversation state whose reads wait for each other while `barrier` is set, so that both
    taps surely read the request before either clears it: the race is decided by the database."""

    barrier: asyncio.Barrier | None = None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        data = await super().get_data(key)
        if self.barrier is not None:
            await asyncio.wait_for(self.barrier.wait(), 10)
        return data


async def test_confirm_pressed_twice_concurrently_debits_once(
    tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path
) -> None:
    storage = BarrierStorage()
    harness = make_harness(tg, pg_sessions, tmp_path, fsm_storage=storage)
    try:
        confirm = await harness.prepare(USER)
        storage.barrier = asyncio.Barrier(2)
        taps = [harness.tg.callback_update(USER, confirm, message_id=500) for _ in range(2)]
        await asyncio.gather(*(harness.feed(tap) for tap in taps))
        assert await harness.balance(USER) == 1
        [debit] = await harness.entries(USER, "debit")
        [spec] = harness.launcher.specs
        assert debit.ref == spec.name
        assert len(await harness.generations()) == 1 and len(await harness.outbox()) == 1
        assert len(await harness.events("generation_requested")) == 1
        # Both taps got past the conversation state: the database, not the FSM, kept it to one.
        answers = [a.get("text") for a in harness.answers()]
        assert t("create.already", "en") in answers and t("create.accepted", "en", balance=1) in answers
    finally:
        await harness.bot.session.close()


async def test_many_concurrent_confirms_with_one_credit_left(harness: Harness) -> None:
    """Two requests in a row, each confirmed by five simultaneous taps, with 2 credits: exactly
    two debits, balance 0."""
    first = await harness.prepare(USER, message_id=500)
    taps = [harness.tg.callback_update(USER, first, message_id=500) for _ in range(5)]
    await asyncio.gather(*(harness.feed(tap) for tap in taps))
    second = await harness.prepare(USER, message_id=600)
    taps = [harness.tg.callback_update(USER, second, message_id=600) for _ in range(5)]
    await asyncio.gather(*(harness.feed(tap) for tap in taps))
    assert await harness.balance(USER) == 0
    assert len(await harness.entries(USER, "debit")) == 2
    assert len(harness.launcher.specs) == 2
