"""Telegram Stars payments: invoices for the configured packages, the pre-checkout check, crediting
a successful payment exactly once per `telegram_payment_charge_id`, and admin refunds."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LabeledPrice
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core import ledger
from vidgen.core.db import events, sqla_ledger
from vidgen.core.db.engine import dialect_insert, durable_commit
from vidgen.core.db.models import Payment, User, utcnow
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings, StarsPackage

from ..metrics import PAYMENTS

log = get_logger(__name__)

CURRENCY = "XTR"


@dataclass(frozen=True)
class Invoice:
    package: StarsPackage
    payload: str
    prices: list[LabeledPrice]


@dataclass(frozen=True)
class PaymentOutcome:
    credited: bool  # False for a replay (already recorded) or a payment that matches no package
    duplicate: bool
    credits: int
    balance: int


@dataclass(frozen=True)
class RefundOutcome:
    payment: Payment
    already: bool
    credits_taken: int
    balance: int


class PaymentService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def packages(self) -> list[StarsPackage]:
        return list(self.settings.stars_packages)

    def invoice(self, package_id: str, label: str) -> Invoice | None:
        package = self.settings.package(package_id)
        if package is None:
            return None
        return Invoice(package, package.id, [LabeledPrice(label=label, amount=package.stars)])

    def check_pre_checkout(self, *, payload: str, currency: str, amount: int, blocked: bool) -> str | None:
        """None when the payment may go ahead, else the text key of the refusal."""
        if blocked:
            return "blocked"
        package = self.settings.package(payload)
        if package is None:
            return "payment.unknown_package"
        if currency != CURRENCY or amount != package.stars:
            return "payment.amount_mismatch"
        return None

    async def record(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        payload: str,
        currency: str,
        amount: int,
        charge_id: str,
        provider_charge_id: str | None = None,
    ) -> PaymentOutcome:
        """One transaction: the payment row (unique charge id) + the purchase entry + the event.
        A replay of the same charge id writes nothing."""
        package = self.settings.package(payload)
        matched = package is not None and currency == CURRENCY and amount == package.stars
        credits = package.credits if package is not None and matched else 0
        await durable_commit(session)  # money received: its record waits for the WAL flush
        inserted = (
            await session.execute(
                dialect_insert(session)(Payment)
                .values(
                    charge_id=charge_id,
                    provider_charge_id=provider_charge_id or None,
                    user_id=user_id,
                    package_id=payload[:32],
                    currency=currency[:8],
                    stars=amount,
                    credits=credits,
                )
                .on_conflict_do_nothing(index_elements=["charge_id"])
                .returning(Payment.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            balance = await sqla_ledger.balance_of(session, user_id)
            await session.commit()
            PAYMENTS.labels(status="duplicate").inc()
            log.info("payment replayed; nothing credited", charge_id=charge_id, user_id=user_id)
            return PaymentOutcome(False, True, 0, balance)
        if credits:
            balance, _ = await sqla_ledger.apply(session, ledger.purchase(user_id, charge_id, credits))
        else:
            balance = await sqla_ledger.balance_of(session, user_id)
        await events.record(
            session,
            events.PAYMENT_SUCCEEDED,
            user_id=user_id,
            package=payload[:32],
            stars=amount,
            credits=credits,
            charge_id=charge_id,
            matched=matched,
        )
        await session.commit()
        PAYMENTS.labels(status="succeeded" if matched else "unmatched").inc()
        log.info("payment recorded", charge_id=charge_id, user_id=user_id, credits=credits, matched=matched)
        return PaymentOutcome(bool(credits), False, credits, balance)

    async def get(self, session: AsyncSession, charge_id: str) -> Payment | None:
        return await session.scalar(select(Payment).where(Payment.charge_id == charge_id))

    async def refund(
        self, bot: Bot, session: AsyncSession, charge_id: str, actor: str
    ) -> RefundOutcome | None:
        """Refund the Stars (`refundStarPayment`), then reverse the purchase in the ledger, mark the
        payment and record the event in one transaction. None if the charge id is unknown."""
        payment = await self.get(session, charge_id)
        if payment is None:
            return None
        if payment.refunded:
            balance = await sqla_ledger.balance_of(session, payment.user_id)
            return RefundOutcome(payment, True, 0, balance)
        try:
            await bot.refund_star_payment(user_id=payment.user_id, telegram_payment_charge_id=charge_id)
        except TelegramBadRequest as exc:
            # Telegram refunded it already (an earlier call whose database step failed): finish it.
            if "ALREADY_REFUNDED" not in exc.message.upper():
                raise
        balance, taken = await sqla_ledger.reverse_purchase(
            session, payment.user_id, charge_id, payment.credits
        )
        payment.refunded = True
        payment.refunded_at = utcnow()
        await events.record(
            session,
            events.PAYMENT_REFUNDED,
            user_id=payment.user_id,
            charge_id=charge_id,
            stars=payment.stars,
            credits_taken=taken,
            actor=actor,
        )
        await session.commit()
        PAYMENTS.labels(status="refunded").inc()
        log.info("payment refunded", charge_id=charge_id, user_id=payment.user_id, credits_taken=taken)
        return RefundOutcome(payment, False, taken, balance)

    async def is_blocked(self, session: AsyncSession, user_id: int) -> bool:
        return bool(await session.scalar(select(User.is_blocked).where(User.id == user_id)))
