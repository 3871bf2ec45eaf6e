"""Fixtures for the bot's integration tests (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import Harness, make_harness
from vidgen.core.db.engine import SessionMaker


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def harness(tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tg, pg_sessions, tmp_path)
    try:
        yield h
    finally:
        await h.bot.session.close()
        await h.dp.storage.close()
