"""The user's progress message, edited in place on each transition (queue position, phase,
attempt). No kopf, no kubernetes: the local controller uses it too.

Telegram allows about one message per second per chat and about 30 per second in all, so edits
to one chat are at least `min_interval` apart and all edits together at most 25 a second: an edit that comes sooner is held and only the latest text is sent when the
interval is over (intermediate states are skipped, the last one always shows). Final texts
(delivered, failed) are sent at once. Progress is cosmetic: errors are logged, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiolimiter import AsyncLimiter

from vidgen.core.logging import get_logger

log = get_logger(__name__)

MAX_TRACKED_CHATS = 10_000
#: Edits per second across all chats (Telegram allows about 30 messages a second per bot; the
#: deliveries and notices need the rest).
OVERALL_PER_SECOND = 25.0


def edit_wait(last_edit: float | None, now: float, min_interval: float) -> float:
    """Seconds to wait before the next edit in a chat whose last edit was at `last_edit`."""
    if last_edit is None:
        return 0.0
    return max(0.0, last_edit + min_interval - now)


class ProgressEditor:
    def __init__(
        self,
        bot: Bot,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        per_second: float = OVERALL_PER_SECOND,
    ) -> None:
        self.bot = bot
        self.overall = AsyncLimiter(per_second, 1.0)
        self.min_interval = min_interval
        self.clock = clock
        self._last: dict[int, float] = {}
        self._shown: dict[tuple[int, int], str] = {}
        self._pending: dict[tuple[int, int], str] = {}
        self._flushers: dict[int, asyncio.Task[None]] = {}

    async def show(self, chat_id: int, message_id: int | None, text: str, *, final: bool = False) -> None:
        if message_id is None:
            return
        key = (chat_id, message_id)
        if self._shown.get(key) == text:
            self._pending.pop(key, None)
            return
        wait = edit_wait(self._last.get(chat_id), self.clock(), self.min_interval)
        if wait > 0 and not final:
            self._pending[key] = text
            self._schedule(chat_id, wait)
            return
        self._pending.pop(key, None)
        await self._edit(key, text)
        if final:
            self._shown.pop(key, None)

    def _schedule(self, chat_id: int, wait: float) -> None:
        task = self._flushers.get(chat_id)
        if task is None or task.done():
            self._flushers[chat_id] = asyncio.create_task(self._flush(chat_id, wait))

    async def _flush(self, chat_id: int, wait: float) -> None:
        await asyncio.sleep(wait)
        self._flushers.pop(chat_id, None)
        for key in [k for k in self._pending if k[0] == chat_id]:
            text = self._pending.pop(key, None)
            if text is not None:
                await self._edit(key, text)

    async def _edit(self, key: tuple[int, int], text: str) -> None:
        chat_id, message_id = key
        if len(self._last) > MAX_TRACKED_CHATS:
            horizon = self.clock() - self.min_interval
            self._last = {c: at for c, at in self._last.items() if at > horizon}
        self._last[chat_id] = self.clock()
        try:
            async with self.overall:  # Telegram: about 30 messages a second in all
                await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
        except TelegramRetryAfter as exc:
            self._last[chat_id] = self.clock() + exc.retry_after
            self._pending.setdefault(key, text)
            self._schedule(chat_id, exc.retry_after + self.min_interval)
            return
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                log.warning("progress edit refused", chat_id=chat_id, detail=exc.message)
                return
        except TelegramAPIError as exc:
            log.warning("progress edit failed", chat_id=chat_id, detail=str(exc))
            return
        self._shown[key] = text

    async def aclose(self) -> None:
        tasks = list(self._flushers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._flushers.clear()
