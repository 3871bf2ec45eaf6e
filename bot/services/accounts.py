"""A user's balance, recent ledger entries and language."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import sqla_ledger
from vidgen.core.db.models import CreditEntry, User, utcnow
from vidgen.core.settings import Settings
from vidgen.core.texts import LANGUAGES


class AccountService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def balance(self, session: AsyncSession, user_id: int) -> int:
        return int(await sqla_ledger.balance_of(session, user_id))

    async def recent_entries(self, session: AsyncSession, user_id: int, limit: int = 5) -> list[CreditEntry]:
        rows = await session.scalars(
            select(CreditEntry)
            .where(CreditEntry.user_id == user_id)
            .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
            .limit(limit)
        )
        return list(rows.all())

    async def set_style(self, session: AsyncSession, user_id: int, style: str) -> None:
        """Remember the style preset the user chose (offered first next time)."""
        await session.execute(update(User).where(User.id == user_id).values(style=style))

    async def set_language(self, session: AsyncSession, user_id: int, language: str) -> str:
        lang = language if language in LANGUAGES else self.settings.default_language
        await session.execute(
            update(User).where(User.id == user_id).values(language=lang, updated_at=utcnow())
        )
        await session.commit()
        return lang
