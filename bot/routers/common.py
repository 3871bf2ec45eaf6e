"""Small helpers the routers share."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


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
        except TelegramBadRequest:
            pass
    bot = query.bot
    assert bot is not None
    chat_id = message.chat.id if message is not None else query.from_user.id
    return await bot.send_message(chat_id, text, reply_markup=markup)
