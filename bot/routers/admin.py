"""Admin commands (admin ids from settings): /grant, /stats, /user, /block, /unblock, /refund.
The router only matches admins; anyone else falls through to the unknown-command reply."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User
from vidgen.core.logging import get_logger
from vidgen.core.texts import t

from .. import views
from ..filters import IsAdmin
from ..services import AdminService, PaymentService
from ..services.admin import actor_of
from .common import telegram_quietly

log = get_logger(__name__)

router = Router(name=__name__)
router.message.filter(IsAdmin())


def _ref(message: Message) -> str:
    """The grant's idempotency ref: the command message itself, so a replayed update (same chat,
    same message id) grants once."""
    return f"tg:{message.chat.id}:{message.message_id}"


@router.message(Command("grant"))
async def grant(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    admin: AdminService,
) -> None:
    parts = (command.args or "").split(maxsplit=2)
    if len(parts) < 3 or not parts[1].lstrip("-").isdigit():
        await message.answer(t("admin.grant_usage", lang))
        return
    target = await admin.find_user(session, parts[0])
    if target is None:
        await message.answer(t("admin.no_user", lang, user=parts[0]))
        return
    result = await admin.grant(
        session, admin_id=user.id, user_id=target.id, amount=int(parts[1]), reason=parts[2], ref=_ref(message)
    )
    if not result.written:
        await message.answer(t("admin.grant_replayed", lang, balance=result.balance))
        return
    log.info("credits granted", actor=actor_of(user.id), user_id=target.id, amount=int(parts[1]))
    await message.answer(
        t("admin.granted", lang, amount=int(parts[1]), user=target.id, balance=result.balance)
    )
    try:
        await bot.send_message(
            target.id, t("grant.received", target.language, amount=int(parts[1]), balance=result.balance)
        )
    except TelegramAPIError as exc:  # the user may have blocked the bot; the grant stands
        log.info("grant notice not delivered", user_id=target.id, error=repr(exc))


@router.message(Command("stats"))
async def stats(message: Message, session: AsyncSession, lang: str, admin: AdminService) -> None:
    figures = await admin.stats(session)
    await message.answer(views.stats(lang, figures))


@router.message(Command("user"))
async def lookup(
    message: Message, command: CommandObject, session: AsyncSession, lang: str, admin: AdminService
) -> None:
    if not command.args:
        await message.answer(t("admin.user_usage", lang))
        return
    target = await admin.find_user(session, command.args)
    if target is None:
        await message.answer(t("admin.no_user", lang, user=command.args.strip()))
        return
    card = await admin.card(session, target)
    await message.answer(views.user_card(lang, card))


async def _set_blocked(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    lang: str,
    admin: AdminService,
    blocked: bool,
) -> None:
    if not command.args:
        await message.answer(t("admin.block_usage", lang))
        return
    target = await admin.find_user(session, command.args)
    if target is None:
        await message.answer(t("admin.no_user", lang, user=command.args.strip()))
        return
    await admin.set_blocked(session, target.id, blocked)
    await message.answer(t("admin.blocked" if blocked else "admin.unblocked", lang, user=target.id))


@router.message(Command("block"))
async def block(
    message: Message, command: CommandObject, session: AsyncSession, lang: str, admin: AdminService
) -> None:
    await _set_blocked(message, command, session, lang, admin, True)


@router.message(Command("unblock"))
async def unblock(
    message: Message, command: CommandObject, session: AsyncSession, lang: str, admin: AdminService
) -> None:
    await _set_blocked(message, command, session, lang, admin, False)


@router.message(Command("refund"))
async def refund(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    payments: PaymentService,
) -> None:
    """Refund a Stars payment: Telegram's refundStarPayment, then the ledger reversal."""
    charge_id = (command.args or "").strip()
    if not charge_id:
        await message.answer(t("admin.refund_usage", lang))
        return
    try:
        outcome = await payments.refund(bot, session, charge_id, actor_of(user.id))
    except TelegramAPIError as exc:
        await message.answer(t("admin.refund_failed", lang, error=exc.message))
        return
    if outcome is None:
        await message.answer(t("admin.no_payment", lang, charge=charge_id))
    elif outcome.already:
        await message.answer(t("admin.refund_already", lang, charge=charge_id))
    else:
        await message.answer(
            t(
                "admin.refunded",
                lang,
                charge=charge_id,
                stars=outcome.payment.stars,
                credits=outcome.credits_taken,
                balance=outcome.balance,
            )
        )
        # The buyer learns it too, with what the ledger now says (committed above; a blocked
        # bot or a flood wait only loses this notice, never the refund).
        buyer = await session.get(User, outcome.payment.user_id)
        await telegram_quietly(
            bot.send_message(
                outcome.payment.user_id,
                t(
                    "payment.refunded",
                    buyer.language if buyer is not None else lang,
                    stars=outcome.payment.stars,
                    credits=outcome.credits_taken,
                    balance=outcome.balance,
                ),
            )
        )
