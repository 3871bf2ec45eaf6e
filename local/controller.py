"""The local controller: what kopf does for the operator, for generations in the database.

It routes the same triggers to the same kopf-free `Reconciler` (vidgen.operator.reconciler) over
the local adapters — `DbGenerationStore` and `ProcessExecutor`:
- a launch (the bot's, or `vidgen generate`'s) → `reconcile` (Pending → Queued → admission);
- a runner process ending → `reconcile` (the Job watch event in a cluster);
- the admission loop (`Reconciler.admission.run`, the same one the operator runs): admission at
  the provider's limits, the moment a notBefore passes or the creation window frees up, and a
  resync of open generations nothing else moves;
- start-up → `reconcile` for every open generation: a restart resumes them where they stopped
  (a Running attempt's runner is adopted, or run again from its checkpoint, by the executor).

Work for one generation runs in one task at a time; a trigger that comes while it runs makes it
run once more, so no trigger is lost and none piles up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

from vidgen.core.db.engine import SessionMaker
from vidgen.core.logging import get_logger
from vidgen.core.ports import Delivery, Progress
from vidgen.core.settings import Settings
from vidgen.operator.metrics import Metrics
from vidgen.operator.reconciler import Reconciler
from vidgen.operator.settlement import Settlement

from .executor import ProcessExecutor
from .store import DbGenerationStore, Scope

log = get_logger(__name__)


class LocalController:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionMaker,
        *,
        delivery: Delivery,
        progress: Progress,
        scope: Scope | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = DbGenerationStore(sessions, scope)
        self.executor = ProcessExecutor(settings, on_exit=self.poke)
        self.reconciler = Reconciler(
            settings,
            self.store,
            self.executor,
            Settlement(sessions),
            delivery,
            progress,
            metrics or Metrics(),
        )
        self._work: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._timer: asyncio.Task[None] | None = None
        self._stopping = False

    # --- triggers ------------------------------------------------------------------------------

    def poke(self, name: str) -> None:
        """Reconcile `name` soon (a launch, or its runner ended)."""
        self._run(name, functools.partial(self.reconciler.reconcile, name), again=True)

    def _run(self, name: str, work: Callable[[], Awaitable[None]], *, again: bool) -> None:
        if self._stopping:
            return
        task = self._work.get(name)
        if task is not None and not task.done():
            if again:
                self._again.add(name)
            return
        self._work[name] = asyncio.create_task(self._loop(name, work), name=f"reconcile-{name}")

    async def _loop(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        try:
            while True:
                self._again.discard(name)
                try:
                    await work()
                except Exception:
                    log.exception("reconcile failed; the timer retries", generation=name)
                if name not in self._again or self._stopping:
                    return
                work = functools.partial(self.reconciler.reconcile, name)
        finally:
            if self._work.get(name) is asyncio.current_task():
                del self._work[name]

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Resume the open generations and start the timer; returns their names."""
        names = [gen.name for gen in await self.store.list()]
        for name in names:
            self.poke(name)
        self._timer = asyncio.create_task(self.reconciler.admission.run(), name="local-admission")
        return names

    async def cancel(self, name: str) -> None:
        """Cancel a generation (a deletion in a cluster): stop its runner, fail it, refund."""
        await self.reconciler.finalize(name)

    async def stop(self) -> list[str]:
        """Stop: no new work; work in flight gets `local_stop_grace_seconds` to finish (then it
        is cancelled, and resumes from the status at the next start); the runners are
        terminated and their attempts resume at the next start. Returns those attempts."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        tasks = list(self._work.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self.settings.local_stop_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return await self.executor.shutdown()
