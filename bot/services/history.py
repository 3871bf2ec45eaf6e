"""My videos: the user's last generations, and sending a delivered one again."""

from __future__ import annotations

import asyncio

from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import generations
from vidgen.core.db.models import Generation
from vidgen.core.errors import InputError
from vidgen.core.ports import Storage
from vidgen.core.settings import Settings
from vidgen.storage import StorageKeyError

#: Telegram refuses bot uploads above 50 MB.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class HistoryService:
    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage

    async def recent(self, session: AsyncSession, user_id: int) -> list[Generation]:
        rows = await session.scalars(
            select(Generation)
            .where(Generation.user_id == user_id, Generation.purged_at.is_(None))
            .order_by(Generation.created_at.desc(), Generation.name)
            .limit(self.settings.history_limit)
        )
        return list(rows.all())

    def download_url(self, generation: Generation) -> str | None:
        """A link anyone can open for a while (S3 presigned), or None (local folder storage)."""
        if generation.phase != "Delivered" or not generation.video_key:
            return None
        url = self.storage.signed_url(generation.video_key, expires_seconds=24 * 3600)
        return url if url and url.startswith(("https://", "http://")) else None

    async def send_again(
        self,
        bot: Bot,
        session: AsyncSession,
        *,
        user_id: int,
        chat_id: int,
        name: str,
        caption: str,
        reply_markup: InlineKeyboardMarkup | None,
    ) -> None:
        """Send a delivered video again: by its cached Telegram file id, else uploaded from storage
        (and the new file id cached). InputError("video_gone") when neither is possible."""
        generation = await generations.get(session, name)
        if generation is None or generation.user_id != user_id or generation.phase != "Delivered":
            raise InputError("unknown_generation", name)
        if generation.telegram_file_id:
            await bot.send_video(
                chat_id, generation.telegram_file_id, caption=caption, reply_markup=reply_markup
            )
            return
        if not generation.video_key:
            raise InputError("video_gone", name)
        try:
            data = await asyncio.to_thread(self.storage.get, generation.video_key)
        except StorageKeyError:
            raise InputError("video_gone", name) from None
        if len(data) > MAX_UPLOAD_BYTES:
            raise InputError("video_gone", f"{len(data)} bytes")
        sent = await bot.send_video(
            chat_id,
            BufferedInputFile(data, filename=f"{name}.mp4"),
            caption=caption,
            reply_markup=reply_markup,
        )
        if sent.video is not None:
            await generations.update_mirror(session, name, telegram_file_id=sent.video.file_id)
            await session.commit()
