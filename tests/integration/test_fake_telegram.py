"""The fake Bot API behaves like Telegram for what vidgen uses (the other tests rely on it)."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import BufferedInputFile

from tests.fakes.telegram import FakeTelegram


async def test_messages_videos_files_and_faults() -> None:
    async with FakeTelegram() as tg:
        bot = tg.bot()
        try:
            me = await bot.get_me()
            assert me.username == "vidgen_test_bot"
            msg = await bot.send_message(42, "hello")
            assert msg.chat.id == 42 and msg.text == "hello"
            sent = await bot.send_video(42, BufferedInputFile(b"MP4DATA", "v.mp4"), caption="done")
            assert sent.video.file_id
            assert tg.calls_to("sendVideo")[0].files["video"] == b"MP4DATA"
            file_id = tg.add_file(b"JPEG")
            f = await bot.get_file(file_id)
            data = await bot.download_file(f.file_path)
            assert data.read() == b"JPEG"
            tg.fail("sendMessage", times=1, code=429, retry_after=3)
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(42, "x")
            assert info.value.retry_after == 3
            assert (await bot.send_message(42, "y")).text == "y"
            assert tg.sent_texts(42) == ["hello", "x", "y"]
        finally:
            await bot.session.close()
