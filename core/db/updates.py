"""Telegram update ids already handled: an update delivered twice is handled once.

`claim` inserts the id in the caller's transaction (the update's own): if the update's writes
roll back, so does the claim, and a redelivery is handled afresh; once they commit, a redelivery
finds the id and is skipped. Two deliveries at once: the second insert waits for the first
transaction and then finds the id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from .engine import dialect_insert
from .models import TelegramUpdate, utcnow


async def claim(session: AsyncSession, update_id: int) -> bool:
    """True if this is the first time `update_id` is seen (the row is written, uncommitted)."""
    insert = dialect_insert(session)
    claimed = (
        await session.execute(
            insert(TelegramUpdate)
            .values(update_id=update_id, received_at=utcnow())
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(TelegramUpdate.update_id)
        )
    ).scalar_one_or_none()
    return claimed is not None


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget ids received before `before` (Telegram redelivers for at most 24 hours)."""
    result = await session.execute(delete(TelegramUpdate).where(TelegramUpdate.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
