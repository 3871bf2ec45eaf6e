"""Balance: credits left and the latest ledger entries."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User

from .. import keyboards, views
from ..callbacks import MenuCallback
from ..services import AccountService, GenerationService
from .common import edit_or_send

router = Router(name=__name__)


async def _text(session: AsyncSession, user: User, lang: str, accounts: AccountService, cost: int) -> str:
    amount = await accounts.balance(session, user.id)
    entries = await accounts.recent_entries(session, user.id)
    return views.balance(lang, amount, entries, cost)


@router.message(Command("balance"))
async def balance_command(
    message: Message,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    generation: GenerationService,
) -> None:
    text = await _text(session, user, lang, accounts, generation.cost)
    await message.answer(text, reply_markup=keyboards.balance(lang))


@router.callback_query(MenuCallback.filter(F.action == "balance"))
async def balance_button(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    generation: GenerationService,
) -> None:
    await query.answer()
    text = await _text(session, user, lang, accounts, generation.cost)
    await edit_or_send(query, text, keyboards.balance(lang))
