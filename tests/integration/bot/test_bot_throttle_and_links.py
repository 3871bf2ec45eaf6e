"""Per-user throttling through the real middleware chain (payments are never throttled), and the
download link of My videos when storage can sign URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import USER, Harness, bot_settings, make_harness
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.models import Generation
from vidgen.core.models import video_key
from vidgen.core.texts import t
from vidgen.storage import FileStorage


class SigningStorage(FileStorage):
    """File storage that can sign URLs, like S3."""

    def signed_url(self, key: str, expires_seconds: int = 3600) -> str | None:
        return f"https://cdn.example.org/{key}?expires={expires_seconds}"


@pytest.fixture
async def throttled(tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tg, pg_sessions, tmp_path, settings=bot_settings(throttle_seconds=30))
    yield h
    await h.bot.session.close()


async def test_throttling_drops_floods_but_never_payments(throttled: Harness) -> None:
    h = throttled
    await h.text(USER, "/start")
    await h.text(USER, "/balance")  # within the window: dropped
    assert len(h.texts(USER)) == 2  # welcome + menu only
    await h.tap(USER, "menu:balance", message_id=3)
    assert h.answers()[-1]["text"] == t("throttled", "en")
    await h.feed(h.tg.pre_checkout_update(USER, "p5", 100))
    assert h.last("answerPreCheckoutQuery").params["ok"] == "true"
    await h.feed(h.tg.successful_payment_update(USER, "p5", 100, charge_id="fast"))
    assert await h.balance(USER) == 7
    assert h.texts(USER)[-1] == t("payment.success", "en", credits=5, balance=7)
    # Another user is not affected.
    await h.text(202, "/start")
    assert h.texts(202)[-1] == t("menu.text", "en", balance=2)


async def test_history_offers_a_download_link_when_storage_signs_urls(
    tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path
) -> None:
    h = make_harness(tg, pg_sessions, tmp_path, storage=SigningStorage(tmp_path / "signed"))
    try:
        await h.tap(USER, await h.prepare(USER), message_id=500)
        [spec] = h.launcher.specs
        async with h.sessions() as session, session.begin():
            await session.execute(
                update(Generation)
                .where(Generation.name == spec.name)
                .values(phase="Delivered", video_key=video_key(spec.name), telegram_file_id="vid-1")
            )
        await h.text(USER, "/history")
        [send, link, menu] = h.buttons(h.last("sendMessage", USER))
        assert send["callback_data"] == f"hist:send:{spec.name}"
        assert link["url"] == f"https://cdn.example.org/{video_key(spec.name)}?expires=86400"
        assert link["text"] == t("button.download", "en", number=1)
        assert menu["callback_data"] == "menu:home"
        await h.text(USER, "/menu")
        assert h.texts(USER)[-1] == t("menu.text", "en", balance=1)
    finally:
        await h.bot.session.close()
