"""Referrals: a user who signs up through another's invite link is attributed to them (once, at
signup; never oneself, never a user who existed before, never an unknown inviter). When the invited
user makes a video, both get `bonus` credits — the invitee once, the inviter once per invitee and
within caps per UTC day and in all. Each bonus is a ledger entry with its own natural key
(`referral_bonus`, "invitee:<id>" / "inviter:<id>"), so a bonus claimed twice, even at once, is
paid once; the inviter's row is locked while the caps are counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ledger
from ..ledger import EntryKind
from .models import CreditEntry, User, utcnow
from .sqla_ledger import apply

ATTRIBUTED = "attributed"
SELF = "self"
UNKNOWN = "unknown"
EXISTING = "existing"


def parse(payload: str | None) -> int | None:
    """The inviter's id in a /start payload ("ref<id>"), else None."""
    if not payload or not payload.startswith("ref"):
        return None
    digits = payload[3:]
    return int(digits) if digits.isdigit() and len(digits) <= 19 else None


async def attribute(session: AsyncSession, invitee_id: int, inviter_id: int, *, new_user: bool) -> str:
    """Record who invited a user who just signed up; returns what happened."""
    if inviter_id == invitee_id:
        return SELF
    if not new_user:
        return EXISTING
    if await session.scalar(select(User.id).where(User.id == inviter_id)) is None:
        return UNKNOWN
    await session.execute(
        update(User).where(User.id == invitee_id, User.referred_by.is_(None)).values(referred_by=inviter_id)
    )
    return ATTRIBUTED


@dataclass(frozen=True)
class Rewarded:
    inviter_id: int
    invitee_balance: int | None  # None: the invitee's bonus was paid before
    inviter_balance: int | None  # None: not paid now (paid before, or capped)


async def reward(
    session: AsyncSession,
    invitee_id: int,
    *,
    bonus: int,
    daily_cap: int,
    total_cap: int,
    now: datetime | None = None,
) -> Rewarded | None:
    """Pay the referral bonuses for an invited user who made a video (idempotent; not committed).
    None when the user was not invited or bonuses are off."""
    inviter_id = await session.scalar(select(User.referred_by).where(User.id == invitee_id))
    if inviter_id is None or bonus <= 0:
        return None
    await session.execute(select(User.id).where(User.id == inviter_id).with_for_update())
    invitee_balance, paid = await apply(
        session, ledger.referral_bonus(invitee_id, bonus, f"invitee:{invitee_id}")
    )
    if not paid:
        return Rewarded(int(inviter_id), None, None)
    mine = (
        select(func.count())
        .select_from(CreditEntry)
        .where(
            CreditEntry.user_id == inviter_id,
            CreditEntry.kind == str(EntryKind.REFERRAL_BONUS),
            CreditEntry.ref.like("inviter:%"),
        )
    )
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    total = int(await session.scalar(mine) or 0)
    today = int(await session.scalar(mine.where(CreditEntry.created_at >= midnight)) or 0)
    if total >= total_cap or today >= daily_cap:
        return Rewarded(int(inviter_id), invitee_balance, None)
    inviter_balance, _ = await apply(
        session, ledger.referral_bonus(int(inviter_id), bonus, f"inviter:{invitee_id}")
    )
    return Rewarded(int(inviter_id), invitee_balance, inviter_balance)


async def invited_count(session: AsyncSession, inviter_id: int) -> tuple[int, int]:
    """(users invited, bonuses earned) for the menu."""
    invited = await session.scalar(
        select(func.count()).select_from(User).where(User.referred_by == inviter_id)
    )
    earned = await session.scalar(
        select(func.count())
        .select_from(CreditEntry)
        .where(
            CreditEntry.user_id == inviter_id,
            CreditEntry.kind == str(EntryKind.REFERRAL_BONUS),
            CreditEntry.ref.like("inviter:%"),
        )
    )
    return int(invited or 0), int(earned or 0)
