"""/start: signup (the user middleware grants the free credits once), onboarding, main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import MenuCallback
from ..services import AccountService
from .common import edit_or_send

router = Router(name=__name__)


@router.message(CommandStart())
async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    is_new_user: bool,
    lang: str,
    settings: Settings,
    accounts: AccountService,
) -> None:
    await state.clear()
    if is_new_user:
        await message.answer(
            t("start.welcome", lang, free=settings.free_credits, cost=settings.credits_per_video)
        )
    balance = await accounts.balance(session, user.id)
    await message.answer(views.menu(lang, balance), reply_markup=keyboards.main_menu(lang))


@router.message(Command("menu"))
async def menu(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
) -> None:
    await state.clear()
    balance = await accounts.balance(session, user.id)
    await message.answer(views.menu(lang, balance), reply_markup=keyboards.main_menu(lang))


@router.callback_query(MenuCallback.filter(F.action == "home"))
async def menu_button(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
) -> None:
    await state.clear()
    await query.answer()
    balance = await accounts.balance(session, user.id)
    await edit_or_send(query, views.menu(lang, balance), keyboards.main_menu(lang))
