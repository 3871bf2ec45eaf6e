"""The outbox sweeper: finishes what a crash (or a failed launch) left between "debited and
recorded" and "VideoGeneration created".

Every `outbox_sweep_interval_seconds` it takes the unprocessed outbox rows older than
`outbox_grace_seconds` (younger ones are still being launched by the handler that committed
them) and, one row at a time under a row lock (`FOR UPDATE SKIP LOCKED`, so replicas never work
on the same row):
- launches it through the GenerationLauncher (idempotent on the name) and marks it processed;
- or counts the failure; after `outbox_max_attempts` failures it refunds the credit in one
  transaction (ledger refund + `generations.refunded` + `credits_refunded` event) and tells the
  user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import events, generations, sqla_ledger
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.models import Generation, Outbox, utcnow
from vidgen.core.errors import ErrorClass
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec
from vidgen.core.ports import GenerationLauncher
from vidgen.core.settings import Settings
from vidgen.core.texts import t

log = get_logger(__name__)


@dataclass
class SweepReport:
    launched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Refunded:
    generation: Generation
    balance: int


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxSweeper:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionMaker,
        launcher: GenerationLauncher,
        bot: Bot | None = None,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.launcher = launcher
        self.bot = bot
        self.clock = clock

    async def sweep_once(self) -> SweepReport:
        report = SweepReport()
        cutoff = self.clock() - timedelta(seconds=self.settings.outbox_grace_seconds)
        async with self.sessions() as session:
            rows = await generations.pending_launches(session, older_than=cutoff, limit=100)
            names = [row.generation for row in rows]
        for name in names:
            try:
                await self._sweep_one(name, report)
            except Exception as exc:  # one bad row must not stop the others
                log.error("outbox row could not be swept", generation=name, exc_info=exc)
        if names:
            log.info(
                "outbox swept",
                launched=len(report.launched),
                failed=len(report.failed),
                refunded=len(report.refunded),
            )
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every interval until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception as exc:
                log.error("outbox sweep failed", exc_info=exc)
            try:
                await asyncio.wait_for(stop.wait(), self.settings.outbox_sweep_interval_seconds)
            except TimeoutError:
                pass

    async def _sweep_one(self, name: str, report: SweepReport) -> None:
        refunded: _Refunded | None = None
        async with self.sessions() as session, session.begin():
            row = await session.scalar(
                select(Outbox)
                .where(Outbox.generation == name, Outbox.processed_at.is_(None))
                .with_for_update(skip_locked=True)
            )
            if row is None:  # processed meanwhile, or another replica holds it
                return
            generation = await generations.get(session, name)
            if generation is None or generation.refunded or generation.phase != "Pending":
                # Already running (the operator mirrors its phase) or settled: nothing to launch.
                await generations.mark_launched(session, name)
                report.skipped.append(name)
                return
            spec = GenerationSpec(**row.payload)
            try:
                await self.launcher.launch(spec)
            except Exception as exc:
                attempts = await generations.mark_launch_failed(session, name, repr(exc))
                log.warning("launch failed again", generation=name, attempts=attempts, error=repr(exc))
                if attempts < self.settings.outbox_max_attempts:
                    report.failed.append(name)
                    return
                refunded = await self._refund(session, generation)
                report.refunded.append(name)
            else:
                await generations.mark_launched(session, name)
                report.launched.append(name)
                log.info("launched from the outbox", generation=name)
        if refunded is not None:
            await self._tell(refunded)

    async def _refund(self, session: AsyncSession, generation: Generation) -> _Refunded:
        """The credit back, the row settled and the event, in the caller's transaction."""
        name = generation.name
        balance, written = await sqla_ledger.refund_generation(session, name)
        await generations.update_mirror(
            session,
            name,
            refunded=True,
            phase="Failed",
            error_class=str(ErrorClass.TEMPORARY),
            error_code="launch_failed",
            error_message="the generation could not be started",
            finished_at=utcnow(),
        )
        if written:
            await events.record(
                session,
                events.CREDITS_REFUNDED,
                user_id=generation.user_id,
                generation=name,
                amount=generation.cost,
                error_class=str(ErrorClass.TEMPORARY),
                reason="launch_failed",
            )
        await generations.mark_launched(session, name)
        log.warning("launch given up; credit refunded", generation=name, balance=balance)
        return _Refunded(generation, balance)

    async def _tell(self, refunded: _Refunded) -> None:
        if self.bot is None:
            return
        gen = refunded.generation
        lang = str((gen.options or {}).get("language") or "en")
        try:
            if gen.status_message_id:
                await self.bot.edit_message_text(
                    t("progress.failed", lang, reason=t("error.launch", lang)),
                    chat_id=gen.chat_id,
                    message_id=gen.status_message_id,
                )
        except Exception as exc:
            log.info("status message not edited", generation=gen.name, error=repr(exc))
        try:
            await self.bot.send_message(gen.chat_id, t("refund.done", lang, balance=refunded.balance))
        except Exception as exc:
            log.warning("refund notice not delivered", generation=gen.name, error=repr(exc))
