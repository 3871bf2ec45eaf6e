"""Whatever no feature handled: unknown commands (admin commands of non-admins land here too,
with the very same reply), unknown buttons, and stray messages."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from vidgen.core.texts import t

from .. import keyboards

router = Router(name=__name__)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, lang: str) -> None:
    await message.answer(t("unknown_command", lang))


@router.callback_query()
async def unknown_callback(query: CallbackQuery, lang: str) -> None:
    await query.answer(t("unknown_callback", lang), show_alert=True)


@router.message()
async def anything_else(message: Message, lang: str) -> None:
    await message.answer(t("fallback", lang), reply_markup=keyboards.main_menu(lang))
