"""My videos: the last generations with their status; send a delivered one again (cached
file id) or open a download link (when storage can sign one)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import HistoryCallback, MenuCallback
from ..services import HistoryService
from .common import edit_or_send

router = Router(name=__name__)


async def _view(
    session: AsyncSession, user: User, lang: str, history: HistoryService
) -> tuple[str, InlineKeyboardMarkup]:
    items = await history.recent(session, user.id)
    buttons = [
        (number, gen.name, history.download_url(gen))
        for number, gen in enumerate(items, start=1)
        if gen.phase == "Delivered"
    ]
    return views.history(lang, items), keyboards.history(lang, buttons)


@router.message(Command("history", "videos"))
async def history_command(
    message: Message, session: AsyncSession, user: User, lang: str, history: HistoryService
) -> None:
    text, markup = await _view(session, user, lang, history)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCallback.filter(F.action == "history"))
async def history_button(
    query: CallbackQuery, session: AsyncSession, user: User, lang: str, history: HistoryService
) -> None:
    await query.answer()
    text, markup = await _view(session, user, lang, history)
    await edit_or_send(query, text, markup)


@router.callback_query(HistoryCallback.filter(F.action == "send"))
async def send_again(
    query: CallbackQuery,
    callback_data: HistoryCallback,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    history: HistoryService,
) -> None:
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else user.id
    await history.send_again(
        bot,
        session,
        user_id=user.id,
        chat_id=chat_id,
        name=callback_data.name,
        caption=t("history.caption", lang),
        reply_markup=keyboards.again(lang, callback_data.name),
    )
