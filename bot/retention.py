"""The retention sweeper: deletes what people sent and got back once `retention_days` have passed —
the photo, the video and the prompts of every finished generation (`core.db.privacy.purge`; the
row stays for the ledger), and the photos of drafts never confirmed — and forgets handled update
ids older than two days (Telegram redelivers for at most 24 hours)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vidgen.core.db import privacy, updates
from vidgen.core.db.engine import SessionMaker
from vidgen.core.logging import get_logger
from vidgen.core.ports import Storage
from vidgen.core.settings import Settings

log = get_logger(__name__)

#: Drafts are looked at for this long after they expire (the sweeper runs every few minutes).
DRAFT_WINDOW = timedelta(days=2)
UPDATE_IDS_KEPT = timedelta(days=2)


@dataclass
class RetentionReport:
    purged: int = 0
    drafts: int = 0
    update_ids: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class RetentionSweeper:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionMaker,
        storage: Storage,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.storage = storage
        self.clock = clock

    async def sweep_once(self, batch: int = 100) -> RetentionReport:
        report = RetentionReport()
        now = self.clock()
        before = now - timedelta(days=self.settings.retention_days)
        while True:
            async with self.sessions() as session:
                rows = await privacy.expired(session, before, limit=batch)
                for gen in rows:
                    await privacy.purge(session, self.storage, gen)
                await session.commit()
            report.purged += len(rows)
            if len(rows) < batch:
                break
        async with self.sessions() as session:
            keys = await privacy.draft_photos(session, since=before - DRAFT_WINDOW, before=before)
            await privacy.delete_keys(self.storage, keys)
            report.drafts = len(keys)
            report.update_ids = await updates.prune(session, now - UPDATE_IDS_KEPT)
            await session.commit()
        if report.purged or report.drafts:
            log.info("retention: content deleted", generations=report.purged, drafts=report.drafts)
        return report

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception as exc:
                log.error("retention sweep failed", exc_info=exc)
            try:
                await asyncio.wait_for(stop.wait(), self.settings.retention_sweep_interval_seconds)
            except TimeoutError:
                pass
