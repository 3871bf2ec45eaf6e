"""The kopf-free services on their own: Telegram delivery and progress edits against the fake Bot
API, and the settlement on PostgreSQL (the local controller reuses all three)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from vidgen.core.callbacks import again_data
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.users import ensure_user
from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.models import GenerationSpec
from vidgen.core.ports import Button, NotSent, Sent, delivery_wait
from vidgen.operator.delivery import TelegramDelivery
from vidgen.operator.progress import ProgressEditor, edit_wait
from vidgen.operator.settlement import Settlement
from vidgen.storage import FileStorage

from .conftest import VIDEO, until


class SigningStorage(FileStorage):
    """File storage that can hand out a public URL (like S3's presigned URLs)."""

    def signed_url(self, key: str, expires_seconds: int = 3600) -> str | None:
        return f"https://cdn.example/{key}?expires={expires_seconds}"


@pytest.fixture
async def tg() -> FakeTelegram:  # type: ignore[misc]
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def storage(tmp_path: Path) -> FileStorage:
    store = FileStorage(tmp_path)
    store.put("outputs/vg-1-a.mp4", VIDEO)
    return store


async def test_video_goes_by_url_when_storage_signs_one(tg: FakeTelegram, tmp_path: Path) -> None:
    bot = tg.bot()
    try:
        outcome = await TelegramDelivery(bot, SigningStorage(tmp_path)).send_video(
            5,
            "outputs/vg-1-a.mp4",
            caption="hi",
            buttons=[Button("🔁 Сгенерировать ещё", str(again_data("vg-1-a")))],
        )
    finally:
        await bot.session.close()
    (call,) = tg.calls_to("sendVideo")
    assert call.params["video"] == "https://cdn.example/outputs/vg-1-a.mp4?expires=3600" and not call.files
    assert outcome == Sent(call.params["video"], by_url=True)
    button = call.json("reply_markup")["inline_keyboard"][0][0]
    assert button == {"text": "🔁 Сгенерировать ещё", "callback_data": "again:vg-1-a"}


async def test_a_refused_url_falls_back_to_an_upload_in_the_same_try(
    tg: FakeTelegram, storage: FileStorage
) -> None:
    tg.fail("sendVideo", times=1, code=400, description="Bad Request: failed to get HTTP URL content")
    signing = SigningStorage(storage.root)
    bot = tg.bot()
    try:
        outcome = await TelegramDelivery(bot, signing).send_video(5, "outputs/vg-1-a.mp4")
    finally:
        await bot.session.close()
    by_url, upload = tg.calls_to("sendVideo")
    assert by_url.params["video"].startswith("https://") and upload.files["video"] == VIDEO
    assert isinstance(outcome, Sent) and not outcome.by_url


@pytest.mark.parametrize(
    ("code", "retry_after", "expected"),
    [
        (429, 7, NotSent("telegram 429: retry after 7s", retry_after=7.0)),
        (403, None, "permanent"),
        (500, None, "temporary"),
    ],
)
async def test_failures_say_whether_to_try_again(
    tg: FakeTelegram, storage: FileStorage, code: int, retry_after: int | None, expected: object
) -> None:
    tg.fail("sendVideo", times=1, code=code, retry_after=retry_after)
    bot = tg.bot()
    try:
        outcome = await TelegramDelivery(bot, storage).send_video(5, "outputs/vg-1-a.mp4")
    finally:
        await bot.session.close()
    assert isinstance(outcome, NotSent)
    if isinstance(expected, NotSent):
        assert outcome == expected
    else:
        assert outcome.permanent is (expected == "permanent") and outcome.retry_after is None


async def test_a_missing_video_is_permanent(tg: FakeTelegram, storage: FileStorage) -> None:
    bot = tg.bot()
    try:
        outcome = await TelegramDelivery(bot, storage).send_video(5, "outputs/nothing.mp4")
    finally:
        await bot.session.close()
    assert isinstance(outcome, NotSent) and outcome.permanent and not tg.calls_to("sendVideo")


def test_delivery_waits_and_button_limits() -> None:
    assert delivery_wait(1, NotSent("x", retry_after=5.0), base=2.0, cap=60.0) == 5.0
    assert delivery_wait(1, NotSent("x", retry_after=500.0), base=2.0, cap=60.0) == 60.0
    assert delivery_wait(2, NotSent("x"), base=2.0, cap=60.0) == 4.0
    assert again_data("vg-" + "x" * 60) is None  # would pass Telegram's 64 bytes


def test_edit_wait() -> None:
    assert edit_wait(None, 10.0, 3.0) == 0.0
    assert edit_wait(9.0, 10.0, 3.0) == 2.0
    assert edit_wait(5.0, 10.0, 3.0) == 0.0


async def test_progress_edits_are_spaced_per_chat_and_keep_the_latest(tg: FakeTelegram) -> None:
    bot = tg.bot()
    editor = ProgressEditor(bot, min_interval=0.3)
    try:
        await editor.show(7, 70, "queued 3")
        await editor.show(7, 70, "queued 2")  # held …
        await editor.show(7, 70, "queued 1")  # … replaced by the latest
        await editor.show(8, 80, "other chat")  # another chat is not held back
        assert [c.params["text"] for c in tg.calls_to("editMessageText")] == ["queued 3", "other chat"]
        await until(lambda: len(tg.calls_to("editMessageText")) == 3, what="the held edit")
        assert tg.calls_to("editMessageText")[-1].params["text"] == "queued 1"
        await editor.show(7, 70, "queued 1")  # unchanged: not sent again
        await editor.show(7, 70, "done", final=True)  # final: at once
        assert [c.params["text"] for c in tg.calls_to("editMessageText")][-1] == "done"
        assert len(tg.calls_to("editMessageText")) == 4
        await editor.show(7, None, "no message to edit")
        tg.fail("editMessageText", times=1, code=400, description="Bad Request: message is not modified")
        await editor.show(9, 90, "same as before")  # Telegram's "not modified" is no error
        await asyncio.sleep(0)
    finally:
        await editor.aclose()
        await bot.session.close()


@pytest.mark.postgres
async def test_settlement_refunds_once_and_knows_when_nothing_is_owed(pg_sessions: SessionMaker) -> None:
    spec = GenerationSpec(name="vg-77-set", user_id=77, chat_id=77, photo="inputs/vg-77-set.jpg")
    async with transaction(pg_sessions) as session:
        await ensure_user(session, 77, free_credits=2)
        await create_request(session, spec, cost=1)
    settlement = Settlement(pg_sessions)
    await settlement.failed(
        "vg-77-set", 77, 1, Failure(ErrorClass.BILLING, "provider_402", "no funds"), 1.8e9
    )
    first = await settlement.refund("vg-77-set", 77, "BILLING")
    again = await settlement.refund("vg-77-set", 77, "BILLING")
    assert (first.owed, first.created, first.balance) == (True, True, 2)
    assert (again.owed, again.created, again.balance) == (True, False, 2)
    nothing = await settlement.refund("vg-77-never", 77, "BILLING")
    assert (nothing.owed, nothing.created) == (False, False)
    assert await settlement.balance(77) == 2 and await settlement.balance(78) is None
