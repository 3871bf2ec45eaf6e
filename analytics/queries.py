"""Figures for admins: the bot's /stats and `vidgen analytics report` use the same queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import CreditEntry, Generation, Payment

QUEUED_PHASES = ("Pending", "Queued")
ACTIVE_PHASES = ("Running", "Generated", "Delivering")


@dataclass(frozen=True)
class AdminStats:
    requests: int
    delivered: int
    failed: int
    success_rate: float | None  # delivered ÷ finished, None when nothing finished
    queued: int
    running: int
    refunds: int
    purchases: int
    stars: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def admin_stats(session: AsyncSession, since: datetime) -> AdminStats:
    """Requests made since `since` and how they ended; the queue as it is now; refunds and Stars
    revenue since `since`."""

    async def scalar(query: Any) -> int:
        return int(await session.scalar(query) or 0)

    recent = Generation.created_at >= since
    requests = await scalar(select(func.count()).select_from(Generation).where(recent))
    delivered = await scalar(select(func.count()).where(recent, Generation.phase == "Delivered"))
    failed = await scalar(select(func.count()).where(recent, Generation.phase == "Failed"))
    queued = await scalar(select(func.count()).where(Generation.phase.in_(QUEUED_PHASES)))
    running = await scalar(select(func.count()).where(Generation.phase.in_(ACTIVE_PHASES)))
    refunds = await scalar(
        select(func.count()).where(CreditEntry.kind == "refund", CreditEntry.created_at >= since)
    )
    purchases = await scalar(select(func.count()).select_from(Payment).where(Payment.created_at >= since))
    stars = await scalar(
        select(func.coalesce(func.sum(Payment.stars), 0)).where(
            Payment.created_at >= since, Payment.refunded.is_(False)
        )
    )
    finished = delivered + failed
    return AdminStats(
        requests=requests,
        delivered=delivered,
        failed=failed,
        success_rate=(delivered / finished) if finished else None,
        queued=queued,
        running=running,
        refunds=refunds,
        purchases=purchases,
        stars=stars,
    )
