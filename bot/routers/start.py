"""/start: signup (the user middleware grants the free credits once), onboarding, main menu."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import referrals
from vidgen.core.db.models import User
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import MenuCallback
from ..services import AccountService
from ..services.referrals import ReferralService
from .common import edit_or_send

router = Router(name=__name__)


@router.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    is_new_user: bool,
    lang: str,
    settings: Settings,
    accounts: AccountService,
) -> None:
    await state.clear()
    inviter = referrals.parse(command.args)
    outcome = None
    if inviter is not None:
        outcome = await referrals.attribute(session, user.id, inviter, new_user=is_new_user)
    if is_new_user:
        await message.answer(
            t("start.welcome", lang, free=settings.free_credits, cost=settings.credits_per_video)
        )
    if outcome is not None:
        key = {
            referrals.ATTRIBUTED: "referral.welcome",
            referrals.SELF: "referral.self",
            referrals.UNKNOWN: "referral.unknown",
            referrals.EXISTING: "referral.existing",
        }[outcome]
        await message.answer(t(key, lang, amount=settings.referral_bonus))
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


@router.callback_query(MenuCallback.filter(F.action == "invite"))
async def invite_button(
    query: CallbackQuery,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    settings: Settings,
    referral: ReferralService,
) -> None:
    """The personal invite link, the rules, and what it earned so far."""
    invited, earned = await referrals.invited_count(session, user.id)
    await query.answer()
    text = t(
        "referral.invite",
        lang,
        link=await referral.link(bot, user.id),
        amount=settings.referral_bonus,
        daily=settings.referral_daily_cap,
        total_cap=settings.referral_total_cap,
        invited=invited,
        earned=earned,
    )
    await edit_or_send(query, text, keyboards.back_to_menu(lang))
