"""Generation rows and the launch outbox.

`create_request` is the bot's confirm step in one transaction: debit (idempotent on the
generation name) + generation row + outbox row + analytics event. The VideoGeneration is then
launched from the outbox, so a crash between the commit and the launch loses nothing: the
sweeper launches what is left, or refunds what cannot be launched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import GenerationSpec
from . import events
from .engine import dialect_insert
from .models import Generation, Outbox, utcnow
from .sqla_ledger import debit_generation


async def create_request(session: AsyncSession, spec: GenerationSpec, cost: int) -> tuple[int, bool]:
    """Debit `cost` and record the generation and its launch, once per `spec.name`.
    Returns (balance after, whether this call created it). Raises InsufficientCredits."""
    existing = await session.scalar(select(Generation.name).where(Generation.name == spec.name))
    balance = await debit_generation(session, spec.user_id, spec.name, cost)
    if existing is not None:
        return balance, False
    created = (
        await session.execute(
            dialect_insert(session)(Generation)
            .values(
                name=spec.name,
                user_id=spec.user_id,
                chat_id=spec.chat_id,
                phase="Pending",
                prompt=spec.prompt,
                model=spec.model,
                aspect_ratio=spec.aspect_ratio,
                duration_seconds=spec.duration_seconds,
                photo_key=spec.photo,
                priority=spec.priority,
                cost=cost,
                status_message_id=spec.status_message_id,
                options={"language": spec.language},
            )
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(Generation.name)
        )
    ).scalar_one_or_none()
    if created is None:
        return balance, False
    await session.execute(
        dialect_insert(session)(Outbox)
        .values(kind="launch", generation=spec.name, payload=spec.as_dict())
        .on_conflict_do_nothing(index_elements=["generation"])
    )
    await events.record(
        session,
        events.GENERATION_REQUESTED,
        user_id=spec.user_id,
        generation=spec.name,
        model=spec.model,
        aspect_ratio=spec.aspect_ratio,
        has_prompt=bool(spec.prompt),
        cost=cost,
    )
    return balance, True


async def get(session: AsyncSession, name: str) -> Generation | None:
    return await session.get(Generation, name, populate_existing=True)


async def update_mirror(session: AsyncSession, name: str, **fields: Any) -> bool:
    """Write the given columns of a generation row (the operator's mirror of the CR status).
    Idempotent: writing the same values again changes nothing. Returns whether the row exists."""
    fields["updated_at"] = utcnow()
    result = await session.execute(update(Generation).where(Generation.name == name).values(**fields))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def pending_launches(
    session: AsyncSession, older_than: datetime | None = None, limit: int = 100
) -> list[Outbox]:
    query = select(Outbox).where(Outbox.processed_at.is_(None)).order_by(Outbox.id).limit(limit)
    if older_than is not None:
        query = query.where(Outbox.created_at <= older_than)
    return list((await session.scalars(query)).all())


async def mark_launched(session: AsyncSession, generation: str) -> None:
    await session.execute(
        update(Outbox)
        .where(Outbox.generation == generation, Outbox.processed_at.is_(None))
        .values(processed_at=utcnow())
    )


async def mark_launch_failed(session: AsyncSession, generation: str, error: str) -> int:
    """Count a failed launch; returns the attempts so far."""
    row = await session.scalar(select(Outbox).where(Outbox.generation == generation))
    if row is None:
        return 0
    row.attempts += 1
    row.last_error = error[:2000]
    await session.flush()
    return row.attempts
