"""Telegram delivery with aiogram's `Bot`: one try at sending the video (by a signed URL when the
storage can make one, else an upload), and the user's failure message. No kopf, no kubernetes:
the local controller uses the same class.

The caller counts tries and decides what a failure means (`core.lifecycle.on_delivery_failure`);
a `NotSent` says how long Telegram asked to wait (`retry_after`, 429) and whether another try
could help at all (`permanent`: the user blocked the bot, the chat is gone, the file is too big
or missing).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import FSInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Message

from vidgen.core.logging import get_logger
from vidgen.core.ports import Button, NotSent, Sent, Storage
from vidgen.core.settings import Settings

log = get_logger(__name__)

_PERMANENT = (TelegramForbiddenError, TelegramNotFound, TelegramUnauthorizedError, TelegramEntityTooLarge)


def make_bot(settings: Settings) -> Bot:
    """The aiogram Bot for these settings (a local Bot API server when telegram_api_url is set)."""
    settings.require("telegram_token")
    token = settings.secret("telegram_token")
    assert token is not None
    if settings.telegram_api_url:
        server = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
        return Bot(token, session=AiohttpSession(api=server))
    return Bot(token)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Core's buttons as aiogram's inline keyboard (one row), None for none."""
    if not buttons:
        return None
    row = [InlineKeyboardButton(text=b.text, callback_data=b.data) for b in buttons]
    return InlineKeyboardMarkup(inline_keyboard=[row])


def _sent(message: Message, by_url: bool) -> Sent:
    """Telegram may file a silent clip as an animation or a document: any of them is delivered."""
    media = message.video or message.animation or message.document
    return Sent(media.file_id if media is not None else "", by_url=by_url)


def _not_sent(exc: TelegramAPIError) -> NotSent:
    if isinstance(exc, TelegramRetryAfter):
        return NotSent(f"telegram 429: retry after {exc.retry_after}s", retry_after=float(exc.retry_after))
    return NotSent(f"{type(exc).__name__}: {exc.message}"[:500], permanent=isinstance(exc, _PERMANENT))


class TelegramDelivery:
    def __init__(self, bot: Bot, storage: Storage, *, url_expires_seconds: int = 3600) -> None:
        self.bot = bot
        self.storage = storage
        self.url_expires_seconds = url_expires_seconds

    async def send_video(
        self,
        chat_id: int,
        video_key: str,
        *,
        caption: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> Sent | NotSent:
        """One try. By URL first when the storage signs one (Telegram fetches up to 20 MB; if it
        cannot, the same try falls back to an upload, up to 50 MB)."""
        reply_markup = keyboard(buttons)
        try:
            url = await asyncio.to_thread(self.storage.signed_url, video_key, self.url_expires_seconds)
        except Exception as exc:  # a storage outage: another try may work
            return NotSent(f"storage: {type(exc).__name__}: {exc}"[:500])
        if url:
            try:
                message = await self.bot.send_video(
                    chat_id, video=url, caption=caption, reply_markup=reply_markup, supports_streaming=True
                )
                return _sent(message, by_url=True)
            except TelegramBadRequest as exc:
                log.info("video by URL refused, uploading instead", chat_id=chat_id, detail=exc.message)
            except TelegramAPIError as exc:
                return _not_sent(exc)
        return await self._upload(chat_id, video_key, caption, reply_markup)

    async def _upload(
        self, chat_id: int, video_key: str, caption: str | None, reply_markup: InlineKeyboardMarkup | None
    ) -> Sent | NotSent:
        with tempfile.TemporaryDirectory(prefix="vidgen-delivery-") as tmp:
            path = Path(tmp) / Path(video_key).name
            try:
                await asyncio.to_thread(self.storage.get_file, video_key, path)
            except KeyError:
                return NotSent(f"video {video_key} is not in storage", permanent=True)
            except Exception as exc:
                return NotSent(f"storage: {type(exc).__name__}: {exc}"[:500])
            try:
                message = await self.bot.send_video(
                    chat_id,
                    video=FSInputFile(path, filename=path.name),
                    caption=caption,
                    reply_markup=reply_markup,
                    supports_streaming=True,
                )
            except TelegramAPIError as exc:
                return _not_sent(exc)
        return _sent(message, by_url=False)

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        """A plain message (the failure notice); None when sent."""
        try:
            await self.bot.send_message(chat_id, text)
        except TelegramAPIError as exc:
            return _not_sent(exc)
        return None
