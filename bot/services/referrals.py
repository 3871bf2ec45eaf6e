"""Referrals in the bot: the invite link, attribution at signup, and the bonuses after an invited
user's video (`vidgen.core.db.referrals`), told to both with what the ledger says."""

from __future__ import annotations

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import referrals
from vidgen.core.db.models import User
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.texts import t

log = get_logger(__name__)


class ReferralService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def link(self, bot: Bot, user_id: int) -> str:
        me = await bot.me()
        return f"https://t.me/{me.username}?start=ref{user_id}"

    async def after_video(self, bot: Bot, session: AsyncSession, user: User) -> None:
        """Pay the bonuses once the invited user's request is committed (its own transaction;
        idempotent, so a replay or a second video pays nothing more), then tell both."""
        if user.referred_by is None or self.settings.referral_bonus <= 0:
            return
        from ..routers.common import telegram_quietly

        rewarded = await referrals.reward(
            session,
            user.id,
            bonus=self.settings.referral_bonus,
            daily_cap=self.settings.referral_daily_cap,
            total_cap=self.settings.referral_total_cap,
        )
        await session.commit()
        if rewarded is None or rewarded.invitee_balance is None:
            return
        amount = self.settings.referral_bonus
        await telegram_quietly(
            bot.send_message(
                user.id,
                t("referral.invitee_bonus", user.language, amount=amount, balance=rewarded.invitee_balance),
            )
        )
        if rewarded.inviter_balance is not None:
            inviter = await session.get(User, rewarded.inviter_id)
            lang = inviter.language if inviter is not None else "en"
            await telegram_quietly(
                bot.send_message(
                    rewarded.inviter_id,
                    t("referral.inviter_bonus", lang, amount=amount, balance=rewarded.inviter_balance),
                )
            )
        log.info(
            "referral bonus",
            invitee=user.id,
            inviter=rewarded.inviter_id,
            inviter_paid=rewarded.inviter_balance is not None,
        )
