"""/forget: after a confirmation, delete the user's photos, videos, prompts and history
(`core.db.privacy.forget_user`); the ledger stays, without content, for the money's sake."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import privacy
from vidgen.core.db.models import User
from vidgen.core.ports import Storage
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards
from ..callbacks import ForgetCallback
from .common import edit_or_send

router = Router(name=__name__)


def _ask(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t("button.forget_yes", lang), callback_data=ForgetCallback(action="yes").pack()
                ),
                InlineKeyboardButton(
                    text=t("button.cancel", lang), callback_data=ForgetCallback(action="no").pack()
                ),
            ]
        ]
    )


@router.message(Command("forget"))
async def forget_command(message: Message, lang: str, settings: Settings) -> None:
    await message.answer(t("forget.ask", lang, days=settings.retention_days), reply_markup=_ask(lang))


@router.callback_query(ForgetCallback.filter(F.action == "no"))
async def forget_no(query: CallbackQuery, lang: str) -> None:
    await query.answer()
    await edit_or_send(query, t("forget.kept", lang), keyboards.main_menu(lang))


@router.callback_query(ForgetCallback.filter(F.action == "yes"))
async def forget_yes(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    blob_storage: Storage,
) -> None:
    await state.clear()  # a draft's photo goes too
    outcome = await privacy.forget_user(session, blob_storage, user.id)
    await session.commit()
    text = t("forget.done", lang, videos=outcome.purged)
    if outcome.in_progress:
        text += "\n" + t("forget.in_progress", lang, videos=outcome.in_progress)
    await query.answer()
    await edit_or_send(query, text, keyboards.main_menu(lang))
