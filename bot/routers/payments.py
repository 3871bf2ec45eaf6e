"""Buy credits with Telegram Stars: packages, invoice, pre-checkout (answered here, within
Telegram's 10 s), successful payment (credited once per charge id), /paysupport and /terms."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, PreCheckoutQuery
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import events
from vidgen.core.db.models import User
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import BuyCallback, MenuCallback
from ..metrics import PAYMENTS
from ..services import AccountService, PaymentService
from .common import edit_or_send

log = get_logger(__name__)

router = Router(name=__name__)

MAX_SUPPORT_CHARS = 1500


@router.message(Command("buy"))
async def buy_command(
    message: Message,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
) -> None:
    balance = await accounts.balance(session, user.id)
    await message.answer(
        views.packages(lang, payments.packages, balance), reply_markup=keyboards.buy(lang, payments.packages)
    )


@router.callback_query(MenuCallback.filter(F.action == "buy"))
async def buy_button(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
) -> None:
    await query.answer()
    balance = await accounts.balance(session, user.id)
    await edit_or_send(
        query, views.packages(lang, payments.packages, balance), keyboards.buy(lang, payments.packages)
    )


@router.callback_query(BuyCallback.filter())
async def invoice(
    query: CallbackQuery,
    callback_data: BuyCallback,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    payments: PaymentService,
) -> None:
    package = payments.invoice(callback_data.package, t("invoice.label", lang))
    if package is None:
        await query.answer(t("payment.unknown_package", lang), show_alert=True)
        return
    await query.answer()
    title = t("invoice.title", lang, credits=package.package.credits)
    description = t("invoice.description", lang, credits=package.package.credits, stars=package.package.stars)
    if isinstance(query.message, Message):
        await query.message.answer_invoice(
            title=title,
            description=description,
            payload=package.payload,
            currency="XTR",
            prices=package.prices,
            provider_token="",
        )
    else:
        await bot.send_invoice(
            user.id,
            title=title,
            description=description,
            payload=package.payload,
            currency="XTR",
            prices=package.prices,
            provider_token="",
        )
    await events.record(
        session, events.INVOICE_SENT, user_id=user.id, package=package.package.id, stars=package.package.stars
    )
    await session.commit()
    PAYMENTS.labels(status="invoice").inc()


@router.pre_checkout_query()
async def pre_checkout(
    query: PreCheckoutQuery, session: AsyncSession, lang: str, payments: PaymentService
) -> None:
    blocked = await payments.is_blocked(session, query.from_user.id)
    refusal = payments.check_pre_checkout(
        payload=query.invoice_payload, currency=query.currency, amount=query.total_amount, blocked=blocked
    )
    if refusal is None:
        await query.answer(ok=True)
        PAYMENTS.labels(status="pre_checkout_ok").inc()
    else:
        await query.answer(ok=False, error_message=t(refusal, lang))
        PAYMENTS.labels(status="pre_checkout_refused").inc()
        log.info("pre-checkout refused", user_id=query.from_user.id, reason=refusal)


@router.message(F.successful_payment)
async def paid(
    message: Message, session: AsyncSession, user: User, lang: str, payments: PaymentService
) -> None:
    sp = message.successful_payment
    assert sp is not None
    outcome = await payments.record(
        session,
        user_id=user.id,
        payload=sp.invoice_payload,
        currency=sp.currency,
        amount=sp.total_amount,
        charge_id=sp.telegram_payment_charge_id,
        provider_charge_id=sp.provider_payment_charge_id,
    )
    if outcome.duplicate:
        return
    if outcome.credited:
        await message.answer(
            t("payment.success", lang, credits=outcome.credits, balance=outcome.balance),
            reply_markup=keyboards.main_menu(lang),
        )
    else:
        await message.answer(t("payment.unmatched", lang))


@router.message(Command("paysupport"))
async def paysupport(
    message: Message, command: CommandObject, bot: Bot, user: User, lang: str, settings: Settings
) -> None:
    """Without text: how support works. With text: forwarded to every admin."""
    question = (command.args or "").strip()
    if not question:
        await message.answer(t("support.help", lang))
        return
    text = t(
        "support.forward",
        "en",
        user_id=user.id,
        username=user.username or "—",
        text=question[:MAX_SUPPORT_CHARS],
    )
    for admin_id in settings.admin_ids:
        try:
            await bot.send_message(admin_id, text)
        except Exception as exc:
            log.warning("support message not delivered to an admin", admin_id=admin_id, error=repr(exc))
    await message.answer(t("support.sent", lang))


@router.message(Command("terms"))
async def terms(message: Message, lang: str, settings: Settings) -> None:
    await message.answer(
        t("terms", lang, cost=settings.credits_per_video)
        + "\n"
        + t("terms.privacy", lang, days=settings.retention_days)
    )
