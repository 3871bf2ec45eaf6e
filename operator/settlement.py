"""The database side of every transition: the `generations` mirror row, the analytics event
(in the same transaction as the change it describes) and the refund. No kopf, no kubernetes:
the local controller calls the same methods.

Every method is one transaction and safe to replay: the mirror writes absolute values, and the
refund is idempotent in the ledger on (refund, generation name) — a replay writes no second
entry and records no second `credits_refunded` event. A generation with no mirror row (created
with kubectl, not by the bot) gets no mirror and no analytics event, and nothing to refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vidgen.core.db import events
from vidgen.core.db import generations as rows
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.sqla_ledger import balance_of, refund_generation
from vidgen.core.errors import Failure, NotDebited, UnknownUser
from vidgen.core.lifecycle import Phase
from vidgen.core.result import RunnerResult
from vidgen.core.status import to_datetime


@dataclass(frozen=True)
class RefundOutcome:
    owed: bool  # a debit existed (else nothing was ever charged)
    created: bool  # this call wrote the refund (False on a replay)
    balance: int | None  # the user's balance afterwards (None if unknown)


class Settlement:
    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions

    async def _mirror(
        self,
        name: str,
        event: str | None = None,
        user_id: int | None = None,
        properties: dict[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        async with transaction(self.sessions) as session:
            exists = await rows.update_mirror(session, name, **fields)
            if exists and event is not None:
                await events.record(session, event, user_id=user_id, generation=name, **(properties or {}))
            return exists

    async def queued(self, name: str, queued_at: float) -> None:
        await self._mirror(name, phase=str(Phase.QUEUED), queued_at=to_datetime(queued_at))

    async def started(self, name: str, user_id: int, attempt: int, job_name: str, started_at: float) -> None:
        await self._mirror(
            name,
            events.GENERATION_STARTED,
            user_id,
            {"attempt": attempt, "job": job_name},
            phase=str(Phase.RUNNING),
            attempts=attempt,
            job_name=job_name,
            started_at=to_datetime(started_at),
            not_before=None,
        )

    async def requeued(self, name: str, attempt: int, failure: Failure, not_before: float) -> None:
        await self._mirror(
            name,
            phase=str(Phase.QUEUED),
            attempts=attempt,
            not_before=to_datetime(not_before),
            **_error_fields(failure),
        )

    async def generated(self, name: str, user_id: int, attempt: int, result: RunnerResult) -> None:
        await self._mirror(
            name,
            events.GENERATION_SUCCEEDED,
            user_id,
            {"attempt": attempt, "model": result.model, "duration": result.duration, "bytes": result.bytes},
            phase=str(Phase.GENERATED),
            video_key=result.video,
            video_bytes=result.bytes,
            video_duration=result.duration,
            provider_task_id=result.taskId,
            enhanced_prompt=result.prompt,
            error_class=None,
            error_code=None,
            error_message=None,
        )

    async def delivering(self, name: str, attempt: int) -> None:
        await self._mirror(name, phase=str(Phase.DELIVERING), delivery_attempts=attempt)

    async def delivered(
        self, name: str, user_id: int, attempt: int, file_id: str, finished_at: float, seconds: float | None
    ) -> None:
        await self._mirror(
            name,
            events.VIDEO_DELIVERED,
            user_id,
            {"delivery_attempts": attempt, "seconds": seconds},
            phase=str(Phase.DELIVERED),
            delivery_attempts=attempt,
            telegram_file_id=file_id,
            finished_at=to_datetime(finished_at),
        )

    async def failed(
        self,
        name: str,
        user_id: int,
        attempt: int,
        failure: Failure,
        finished_at: float,
        *,
        delivery: bool = False,
    ) -> None:
        await self._mirror(
            name,
            events.DELIVERY_FAILED if delivery else events.GENERATION_FAILED,
            user_id,
            {
                "attempt": attempt,
                "error_class": str(failure.error_class),
                "error_code": failure.code,
            },
            phase=str(Phase.FAILED),
            finished_at=to_datetime(finished_at),
            **_error_fields(failure),
        )

    async def refund(self, name: str, user_id: int, error_class: str) -> RefundOutcome:
        """Give the credit back once, mark the mirror refunded and record `credits_refunded`."""
        async with transaction(self.sessions) as session:
            try:
                balance, created = await refund_generation(session, name)
            except NotDebited:
                return RefundOutcome(owed=False, created=False, balance=await _balance(session, user_id))
            await rows.update_mirror(session, name, refunded=True)
            if created:
                await events.record(
                    session,
                    events.CREDITS_REFUNDED,
                    user_id=user_id,
                    generation=name,
                    error_class=error_class,
                    balance=balance,
                )
            return RefundOutcome(owed=True, created=created, balance=balance)

    async def balance(self, user_id: int) -> int | None:
        async with self.sessions() as session:
            return await _balance(session, user_id)


async def _balance(session: Any, user_id: int) -> int | None:
    try:
        return await balance_of(session, user_id)
    except UnknownUser:
        return None


def _error_fields(failure: Failure) -> dict[str, Any]:
    return {
        "error_class": str(failure.error_class),
        "error_code": failure.code[:64],
        "error_message": failure.detail,
    }
