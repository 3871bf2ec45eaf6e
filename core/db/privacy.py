"""Privacy: people send photos of faces. A generation's content — its photo, its video, its
prompts and anything that may quote them — is deleted from storage and from the row after the
retention period (`settings.retention_days`, by the bot's retention sweeper) or when its user asks
(/forget). The row itself stays, without content, because the ledger refers to it (debit and
refund); it is marked `purged_at`.

Storage objects go first, then the row is cleared in the caller's transaction: a crash between the
two leaves a row that is purged again (deleting a missing object is fine)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import checkpoint_key, photo_key, video_key
from ..ports import Storage
from .events import PHOTO_RECEIVED
from .models import Event, Generation, User, utcnow

#: Phases after which nothing more happens to a generation (its content can go).
FINISHED = ("Delivered", "Failed")


def content_keys(gen: Generation) -> list[str]:
    """Every storage object of a generation: its photo, its video, the provider checkpoint."""
    keys = [gen.photo_key, gen.video_key or video_key(gen.name), checkpoint_key(gen.name)]
    return [k for k in dict.fromkeys(keys) if k]


def _without_content(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The local-mode status document without the prompts the runner's result carries."""
    if not status:
        return status
    cleaned = dict(status)
    result = cleaned.get("result")
    if isinstance(result, dict):
        cleaned["result"] = {k: v for k, v in result.items() if k not in ("prompt", "promptEnhanced")}
    return cleaned


async def purge(
    session: AsyncSession, storage: Storage, gen: Generation, now: datetime | None = None
) -> None:
    """Delete a generation's stored objects, then clear its text fields (not committed)."""
    for key in content_keys(gen):
        await asyncio.to_thread(storage.delete, key)
    await session.execute(
        update(Generation)
        .where(Generation.name == gen.name)
        .values(
            prompt="",
            enhanced_prompt=None,
            error_message=None,
            telegram_file_id=None,
            status=_without_content(gen.status),
            purged_at=now or utcnow(),
        )
    )


async def expired(session: AsyncSession, before: datetime, limit: int = 100) -> list[Generation]:
    """Finished generations created before `before` whose content is still kept."""
    rows = await session.scalars(
        select(Generation)
        .where(
            Generation.purged_at.is_(None),
            Generation.phase.in_(FINISHED),
            Generation.created_at < before,
        )
        .order_by(Generation.created_at)
        .limit(limit)
    )
    return list(rows.all())


async def draft_photos(
    session: AsyncSession,
    *,
    user_id: int | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> list[str]:
    """Photo keys of drafts never confirmed (a photo received, no generation row): a user's, or
    those received in [since, before)."""
    query = (
        select(Event.generation)
        .outerjoin(Generation, Generation.name == Event.generation)
        .where(Event.type == PHOTO_RECEIVED, Event.generation.is_not(None), Generation.name.is_(None))
    )
    if user_id is not None:
        query = query.where(Event.user_id == user_id)
    if since is not None:
        query = query.where(Event.created_at >= since)
    if before is not None:
        query = query.where(Event.created_at < before)
    return [photo_key(str(name)) for name in (await session.scalars(query)).all()]


async def delete_keys(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        await asyncio.to_thread(storage.delete, key)


@dataclass(frozen=True)
class Forgotten:
    purged: int
    in_progress: int


async def forget_user(session: AsyncSession, storage: Storage, user_id: int) -> Forgotten:
    """/forget: every finished generation of the user purged, their name fields cleared (not
    committed). Generations still in progress are left (counted): they are purged when asked
    again after they finish — their photo is needed until then, and their credit is at stake."""
    rows = list(
        (
            await session.scalars(
                select(Generation).where(Generation.user_id == user_id, Generation.purged_at.is_(None))
            )
        ).all()
    )
    now = utcnow()
    await delete_keys(storage, await draft_photos(session, user_id=user_id))
    purged = 0
    for gen in rows:
        if gen.phase in FINISHED:
            await purge(session, storage, gen, now)
            purged += 1
    await session.execute(
        update(User).where(User.id == user_id).values(username=None, first_name=None, updated_at=now)
    )
    return Forgotten(purged, len(rows) - purged)
