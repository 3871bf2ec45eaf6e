"""Albums are a batch: up to 10 photos → one confirm screen for N videos at the total price, the
caption as their shared prompt; one debit per video; "make fewer" when the balance covers only
some; a video in the album or an 11th photo is refused with a clear message, nothing lost."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import CAT, USER, Harness, bot_settings, make_harness
from tests.integration.bot.test_bot_honest_money import money_is_right
from vidgen.core.db.engine import SessionMaker
from vidgen.core.texts import t


def album(
    harness: Harness, n: int, caption: str | None = "they all wave", group: str = "g1", language: str = "en"
) -> list[dict[str, Any]]:
    updates = []
    for i in range(n):
        update = harness.tg.photo_update(USER, CAT, caption=caption if i == 0 else None, language=language)
        update["message"]["media_group_id"] = group
        updates.append(harness.stamp(update))
    return updates


async def feed_all(harness: Harness, updates: list[dict[str, Any]]) -> None:
    """As Telegram delivers an album: the updates together, handled concurrently."""
    await asyncio.gather(*(harness.feed(copy.deepcopy(u)) for u in updates))


async def buy(harness: Harness, credits_package: str = "p5", stars: int = 100) -> None:
    await harness.feed(harness.tg.successful_payment_update(USER, credits_package, stars, charge_id="c-1"))


async def test_an_album_of_three_is_one_screen_and_three_debits(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await buy(harness)  # 2 + 5 = 7 credits
    before = len(harness.tg.calls_to("sendMessage"))
    await feed_all(harness, album(harness, 3))
    # One screen, sent by whichever photo was handled first and then edited: it ends as the
    # options, the three photos counted and the caption kept, whatever the order.
    assert len(harness.tg.calls_to("sendMessage")) == before + 1
    assert "opt:next" in str(harness.screen(USER).params["reply_markup"])
    shown = harness.screen(USER).params["text"]
    assert t("album.header", "en", photos=3) in shown and "they all wave" in shown
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=500)
    confirm_text = harness.screen(USER).params["text"]
    assert "3 videos" in confirm_text and "3 credits in all" in confirm_text
    confirm = harness.button(USER, "confirm:")
    await harness.tap(USER, confirm, message_id=500)
    await harness.tap(USER, confirm, message_id=500)  # a double tap: nothing more
    assert await harness.balance(USER) == 4
    specs = harness.launcher.specs
    assert len(specs) == 3 and len({s.name for s in specs}) == 3 and len({s.photo for s in specs}) == 3
    assert {s.prompt for s in specs} == {"they all wave"}
    assert len({s.status_message_id for s in specs}) == 3  # each its own progress message
    assert len(await harness.entries(USER, "debit")) == 3
    await money_is_right(harness)


async def test_a_balance_that_covers_some_offers_fewer(harness: Harness) -> None:
    await harness.text(USER, "/start")  # 2 credits
    await feed_all(harness, album(harness, 3))
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=500)
    screen = harness.screen(USER)
    assert t("create.batch_short", "en", videos=2) in screen.params["text"]
    assert "buy:p5" in str(screen.params["reply_markup"])
    await harness.tap(USER, harness.callback(screen, "fewer:"), message_id=500)
    assert "2 videos" in harness.screen(USER).params["text"]
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=500)
    assert await harness.balance(USER) == 0
    assert len(harness.launcher.specs) == 2
    await money_is_right(harness)


async def test_confirming_more_than_the_balance_debits_nothing(harness: Harness) -> None:
    await harness.text(USER, "/start")  # 2 credits
    await feed_all(harness, album(harness, 3))
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=500)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=500)
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
    assert harness.texts(USER)[-1].startswith(t("error.insufficient_credits", "en", balance=2, needed=3))
    await money_is_right(harness)


async def test_a_video_in_an_album_is_skipped_with_a_message(harness: Harness) -> None:
    await harness.text(USER, "/start")
    updates = album(harness, 2)
    video = harness.stamp(
        {
            "message": harness.tg.message(
                USER, video={"file_id": "v1", "file_unique_id": "uv1", "width": 1, "height": 1, "duration": 1}
            )
        }
    )
    video["message"]["media_group_id"] = "g1"
    for u in [updates[0], video, updates[1]]:
        await harness.feed(copy.deepcopy(u))
    assert t("input.album_not_photo", "en") in harness.texts(USER)
    assert t("album.header", "en", photos=2) in harness.screen(USER).params["text"]


async def test_an_album_of_eleven_keeps_ten(harness: Harness) -> None:
    await harness.text(USER, "/start")
    for u in album(harness, 11):
        await harness.feed(copy.deepcopy(u))
    assert harness.texts(USER).count(t("input.album_too_large", "en")) == 1
    assert t("album.header", "en", photos=10) in harness.screen(USER).params["text"]
    assert await harness.balance(USER) == 2


async def test_album_without_caption_asks_once_and_in_russian(harness: Harness) -> None:
    await harness.text(USER, "/start", language="ru")
    await feed_all(harness, album(harness, 2, caption=None, language="ru"))
    screen = harness.screen(USER).params["text"]
    assert "2 фото" in screen and t("create.ask_prompt", "ru", limit=1000) in screen
    await harness.text(USER, "все машут", language="ru")
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=500, language="ru")
    text = harness.screen(USER).params["text"]
    assert "2 видео" in text and "всего 2 кредита" in text


async def test_album_photos_are_never_throttled(
    tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path
) -> None:
    harness = make_harness(tg, pg_sessions, tmp_path, settings=bot_settings(throttle_seconds=3600))
    try:
        await harness.text(USER, "/start")
        await feed_all(harness, album(harness, 3))
        assert t("album.header", "en", photos=3) in harness.screen(USER).params["text"]
    finally:
        await harness.bot.session.close()
