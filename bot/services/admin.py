"""Admin commands' logic: grants (with actor and reason, once per command message), stats, user
lookup, block/unblock. Who is an admin comes from settings (`VIDGEN_ADMIN_IDS`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.analytics.queries import AdminStats, admin_stats
from vidgen.core import ledger
from vidgen.core.db import events, sqla_ledger
from vidgen.core.db.models import Generation, Payment, User, utcnow
from vidgen.core.errors import UnknownUser
from vidgen.core.settings import Settings


@dataclass(frozen=True)
class Grant:
    balance: int
    written: bool  # False for a replayed command (same ref): nothing granted again


@dataclass(frozen=True)
class UserCard:
    user: User
    generations: int
    delivered: int
    payments: int
    stars: int
    last: list[Generation]


def actor_of(admin_id: int) -> str:
    return f"admin:{admin_id}"


class AdminService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    async def grant(
        self, session: AsyncSession, *, admin_id: int, user_id: int, amount: int, reason: str, ref: str
    ) -> Grant:
        """Credit `amount` to `user_id` with the admin as actor; `ref` (derived from the command
        message) makes a replayed command grant nothing more."""
        entry = ledger.admin_grant(user_id, amount, actor_of(admin_id), reason, ref)
        balance, written = await sqla_ledger.apply(session, entry)
        if written:
            await events.record(
                session,
                events.CREDITS_GRANTED,
                user_id=user_id,
                amount=amount,
                actor=entry.actor,
                reason=entry.reason,
            )
        await session.commit()
        return Grant(balance, written)

    async def stats(self, session: AsyncSession, now: datetime | None = None) -> AdminStats:
        now = now or datetime.now(UTC)
        since = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return await admin_stats(session, since)

    async def find_user(self, session: AsyncSession, target: str) -> User | None:
        """A user by Telegram id or @username."""
        target = target.strip()
        if target.lstrip("-").isdigit():
            return await session.get(User, int(target), populate_existing=True)
        username = target.removeprefix("@")
        if not username:
            return None
        return await session.scalar(select(User).where(func.lower(User.username) == username.lower()))

    async def card(self, session: AsyncSession, user: User) -> UserCard:
        count = await session.scalar(select(func.count()).where(Generation.user_id == user.id))
        delivered = await session.scalar(
            select(func.count()).where(Generation.user_id == user.id, Generation.phase == "Delivered")
        )
        payments = await session.scalar(select(func.count()).where(Payment.user_id == user.id))
        stars = await session.scalar(
            select(func.coalesce(func.sum(Payment.stars), 0)).where(
                Payment.user_id == user.id, Payment.refunded.is_(False)
            )
        )
        last = await session.scalars(
            select(Generation)
            .where(Generation.user_id == user.id)
            .order_by(Generation.created_at.desc())
            .limit(5)
        )
        return UserCard(
            user, int(count or 0), int(delivered or 0), int(payments or 0), int(stars or 0), list(last)
        )

    async def set_blocked(self, session: AsyncSession, user_id: int, blocked: bool) -> None:
        result = await session.execute(
            update(User).where(User.id == user_id).values(is_blocked=blocked, updated_at=utcnow())
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            await session.rollback()
            raise UnknownUser(user_id)
        await session.commit()
