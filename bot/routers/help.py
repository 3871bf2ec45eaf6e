"""Help / FAQ and the language switch (ru, en)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import LanguageCallback, MenuCallback
from ..services import AccountService
from .common import edit_or_send

router = Router(name=__name__)


def _help(lang: str, settings: Settings) -> str:
    return t(
        "help.text",
        lang,
        free=settings.free_credits,
        cost=settings.credits_per_video,
        max_mb=settings.max_photo_bytes // (1024 * 1024),
        limit=settings.max_prompt_chars,
    )


@router.message(Command("help"))
async def help_command(message: Message, lang: str, settings: Settings) -> None:
    await message.answer(_help(lang, settings), reply_markup=keyboards.help_menu(lang))


@router.callback_query(MenuCallback.filter(F.action == "help"))
async def help_button(query: CallbackQuery, lang: str, settings: Settings) -> None:
    await query.answer()
    await edit_or_send(query, _help(lang, settings), keyboards.help_menu(lang))


@router.message(Command("language"))
async def language_command(message: Message, lang: str) -> None:
    await message.answer(t("language.choose", lang), reply_markup=keyboards.help_menu(lang))


@router.callback_query(LanguageCallback.filter())
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCallback,
    session: AsyncSession,
    user: User,
    accounts: AccountService,
) -> None:
    lang = await accounts.set_language(session, user.id, callback_data.code)
    await query.answer(t("language.set", lang))
    balance = await accounts.balance(session, user.id)
    await edit_or_send(query, views.menu(lang, balance), keyboards.main_menu(lang))
