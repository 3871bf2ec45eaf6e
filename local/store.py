"""`GenerationStore` over the generations table, for the local controller.

In a cluster a VideoGeneration object carries the status and the table mirrors it; here the table
is the object. `generations.status` (migration 0003) holds the same CRD-shaped status document
the operator writes, NULL until the generation is launched (like an object not yet created), so
the bot's row-before-launch semantics (outbox, sweeper) stay exactly as in a cluster.

Every status patch is one transaction that starts with a write to the row: that takes the row
lock on PostgreSQL and the write lock on SQLite before the status is read, so the
read-merge-write cannot interleave with another writer. The same transaction keeps the mirror
columns (phase, attempts, error, video, timestamps, …) and `settled` equal to the status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.models import Generation as Row
from vidgen.core.db.models import utcnow
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec
from vidgen.core.status import Generation, is_settled, merge, parse_time, to_datetime

log = get_logger(__name__)


class NotLaunchable(LookupError):
    """No generation row that could be launched under that name."""


@dataclass(frozen=True)
class Scope:
    """Which generations a controller drives: `only` these names (`vidgen generate` drives its
    own), and never those of `exclude_users` (`vidgen local` leaves the command line's alone)."""

    only: frozenset[str] | None = None
    exclude_users: frozenset[int] = field(default_factory=frozenset)

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [Row.status.is_not(None)]
        if self.only is not None:
            clauses.append(Row.name.in_(sorted(self.only)))
        if self.exclude_users:
            clauses.append(Row.user_id.not_in(sorted(self.exclude_users)))
        return clauses


def epoch(value: datetime | None) -> float | None:
    """A stored timestamp as epoch seconds (SQLite gives them back without a time zone: UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def spec_of(row: Row) -> GenerationSpec:
    """The VideoGeneration spec of a generation row (the columns the bot wrote)."""
    return GenerationSpec(
        name=row.name,
        user_id=int(row.user_id),
        chat_id=int(row.chat_id),
        photo=row.photo_key,
        prompt=row.prompt or "",
        model=row.model,
        aspect_ratio=row.aspect_ratio,
        duration_seconds=int(row.duration_seconds),
        status_message_id=int(row.status_message_id) if row.status_message_id is not None else None,
        priority=int(row.priority or 0),
        language=str((row.options or {}).get("language") or "en"),
    )


def generation_of(row: Row) -> Generation:
    """The reconciler's view of a launched row (`requested_at` falls back to the row's creation)."""
    return Generation(
        name=row.name,
        spec=spec_of(row),
        status=dict(row.status or {}),
        created_at=epoch(row.created_at),
    )


def _time(status: Mapping[str, Any], key: str) -> datetime | None:
    value: datetime | None = to_datetime(parse_time(status.get(key)))
    return value


def mirror_fields(status: Mapping[str, Any]) -> dict[str, Any]:
    """The mirror columns for a status document (what the operator's Settlement writes, so the
    two always agree), and `settled`."""
    error = status.get("error") or {}
    result = status.get("result") or {}
    return {
        "phase": str(status.get("phase") or "Pending"),
        "attempts": int(status.get("attempts") or 0),
        "delivery_attempts": int(status.get("deliveryAttempts") or 0),
        "job_name": status.get("jobName"),
        "provider_task_id": status.get("providerTaskId"),
        "error_class": error.get("class"),
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "video_key": result.get("video"),
        "video_bytes": result.get("bytes"),
        "video_duration": result.get("duration"),
        "telegram_file_id": result.get("telegramFileId"),
        "enhanced_prompt": result.get("prompt"),
        "refunded": bool(status.get("refunded")),
        "not_before": _time(status, "notBefore"),
        "queued_at": _time(status, "queuedAt"),
        "started_at": _time(status, "startedAt"),
        "finished_at": _time(status, "finishedAt"),
        "settled": is_settled(status),
    }


class DbGenerationStore:
    """The reconciler's `GenerationStore` on the database (SQLite or PostgreSQL)."""

    def __init__(self, sessions: SessionMaker, scope: Scope | None = None) -> None:
        self.sessions = sessions
        self.scope = scope or Scope()

    async def get(self, name: str) -> Generation | None:
        async with self.sessions() as session:
            row = await session.scalar(select(Row).where(Row.name == name, *self.scope.where()))
            return generation_of(row) if row is not None else None

    async def list(self) -> list[Generation]:
        """The open generations (settled ones need nothing more; unlike a cluster, where old
        objects get deleted, the table keeps every generation, so they are left out here)."""
        async with self.sessions() as session:
            rows: Sequence[Row] = (
                await session.scalars(
                    select(Row).where(Row.settled.is_(False), *self.scope.where()).order_by(Row.created_at)
                )
            ).all()
            return [generation_of(row) for row in rows]

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Generation | None:
        async with transaction(self.sessions) as session:
            row = await self._lock(session, name)
            if row is None:
                return None
            status = merge(row.status or {}, patch)
            row.status = status
            for column, value in mirror_fields(status).items():
                setattr(row, column, value)
            row.updated_at = utcnow()
            await session.flush()
            return generation_of(row)

    async def _lock(self, session: AsyncSession, name: str) -> Row | None:
        """The row, after a write that takes its lock (see the module's docstring)."""
        touched = await session.execute(
            update(Row).where(Row.name == name, *self.scope.where()).values(updated_at=utcnow())
        )
        if not touched.rowcount:  # type: ignore[attr-defined]
            return None
        return await session.get(Row, name, populate_existing=True)

    async def record_event(
        self, gen: Generation, reason: str, message: str, *, warning: bool = False
    ) -> None:
        """Kubernetes Events have no local counterpart: a log line (the mirror and the analytics
        events in the database record the transitions)."""
        (log.warning if warning else log.info)("event", generation=gen.name, reason=reason, detail=message)

    async def launch(self, name: str) -> bool:
        """Create the generation's status (Pending): what creating the VideoGeneration is in a
        cluster. Idempotent: False if it was launched before. NotLaunchable if there is no row,
        or it was settled without being launched (the outbox sweeper refunded it)."""
        async with transaction(self.sessions) as session:
            created = await session.execute(
                update(Row)
                .where(Row.name == name, Row.status.is_(None), Row.phase == "Pending")
                .values(status={}, settled=False, updated_at=utcnow())
            )
            if created.rowcount:
                return True
            launched = await session.scalar(select(Row.name).where(Row.name == name, Row.status.is_not(None)))
            if launched is None:
                raise NotLaunchable(f"no pending generation named {name}")
            return False
