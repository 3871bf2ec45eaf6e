"""Small helpers the routers share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiohttp import ClientError

from vidgen.core.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

#: What a Bot API call (or the FSM store behind it) can raise that says nothing about our data:
#: Telegram's refusals (flood control, message gone), the network, a timeout, Redis.
TELEGRAM_ERRORS: tuple[type[BaseException], ...] = (TelegramAPIError, ClientError, TimeoutError, OSError)


async def telegram_quietly(call: Awaitable[T]) -> T | None:
    """Await a Telegram call whose failure must not stop what follows (after a commit, the launch
    must happen whatever Telegram answers); the failure is logged, None returned."""
    try:
        return await call
    except asyncio.CancelledError:
        raise
    except TELEGRAM_ERRORS as exc:
        log.warning("telegram call failed; carrying on", error=repr(exc))
        return None
    except Exception as exc:  # a RedisError from the FSM store: same treatment
        if type(exc).__module__.startswith("redis"):
            log.warning("state store call failed; carrying on", error=repr(exc))
            return None
        raise


async def edit_or_send(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Replace the text of the message whose button was tapped; send a new message when it cannot
    be edited (too old, not a text message)."""
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        try:
            edited = await message.edit_text(text, reply_markup=markup)
            if isinstance(edited, Message):
                return edited
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return message  # the same text and buttons are already shown: nothing to send

    bot = query.bot
    assert bot is not None
    chat_id = message.chat.id if message is not None else query.from_user.id
    return await bot.send_message(chat_id, text, reply_markup=markup)
