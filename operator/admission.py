"""The admission loop: one per operator (and one in local mode), not one timer per object.

Each pass reads every generation once (a fresh list, never a cache), rebuilds each provider
account's creation window from the attempts' recorded start times (so a restarted or failed-over
operator sees the window the cluster saw), asks core's `plan` who starts where, starts them in
FIFO order, and rewrites queue positions only where what a user sees changes. Then it sleeps
until the earliest moment something could change by time alone — the creation window freeing
up, a retry's notBefore, a budget recovering — or until a trigger (a watch event, an attempt's
end) asks for a pass. Many triggers during a pass make one more pass, never a pile.

The pass also keeps the generations moving that no event will move: a Pending one is enqueued,
and an unsettled one not looked at for `resync_interval_seconds` is reconciled (a lost event).
Those run as tasks of their own, at most one per generation, so a slow delivery never holds
admission.

The loop runs where the operator is active: in the kopf operator it is a daemon of one
ConfigMap (operator/handlers.py), which kopf stops while another replica leads (peering) and on
exit; locally, the controller runs it as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Protocol

from vidgen.core.admission import (
    Account,
    CreationBudget,
    Plan,
    QueueItem,
    RunningItem,
    account_states,
    plan,
    queue_positions,
    shown_position,
)
from vidgen.core.lifecycle import Phase
from vidgen.core.logging import get_logger
from vidgen.core.ports import GenerationStore
from vidgen.core.settings import Settings
from vidgen.core.status import Generation

from .metrics import Metrics

log = get_logger(__name__)

#: Status writes for queue positions in one pass, at most (the rest wait for the next pass).
MAX_POSITION_WRITES = 500
#: Attempts being started at once (their Jobs are still created in FIFO order).
PARALLEL_STARTS = 16
#: Resyncs (and Pending enqueues) started by one pass, at most.
MAX_RESYNCS_PER_PASS = 100


#: (wait for my turn, my Job is created): how a start keeps Job creations in plan order.
Turn = tuple[Callable[[], Awaitable[None]], Callable[[], None]]


class Starter(Protocol):
    """What admission asks of the reconciler (each under the generation's lock)."""

    async def start_attempt(
        self, name: str, account: str, now: float, *, turn: Turn | None = None
    ) -> bool: ...
    async def show_position(self, name: str, position: int) -> None: ...
    async def reconcile(self, name: str) -> None: ...


def accounts_of(settings: Settings) -> list[Account]:
    return [
        Account(
            name,
            rate_limit=settings.provider_rate_limit,
            window=settings.provider_rate_window_seconds,
            ceiling=settings.provider_max_running,
        )
        for name in settings.provider_accounts
    ]


class Admission:
    def __init__(
        self,
        settings: Settings,
        store: GenerationStore,
        starter: Starter,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.starter = starter
        self.metrics = metrics
        self.clock = clock
        self.accounts = accounts_of(settings)
        self.budgets = {a.name: CreationBudget(a.rate_limit, a.window) for a in self.accounts}
        self.out_of_rotation: dict[str, str] = {}  # account → why
        self.last_pass: float | None = None
        self.last_plan: Plan | None = None
        self.passes = 0
        #: the last passes' durations (seconds) and status writes (starts + positions), newest last
        self.pass_seconds: deque[float] = deque(maxlen=1000)
        self.pass_writes: deque[int] = deque(maxlen=1000)
        self._wanted = asyncio.Event()
        self._looked_at: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: attempts this operator started in the last window (their status may not be listed
        #: yet, or the object may be gone): generation → (account, start time)
        self._recent: dict[str, tuple[str, float]] = {}
        for account in self.accounts:
            metrics.account_in_rotation.labels(account=account.name).set(1)
            metrics.creation_budget.labels(account=account.name).set(account.rate_limit)
        metrics.concurrency_max.set(settings.running_cap)

    # --- triggers ------------------------------------------------------------------------------

    def request(self) -> None:
        """Ask for a pass (now, or right after the one in progress)."""
        self._wanted.set()

    def on_rate_limited(self, account: str, now: float) -> None:
        """An attempt on `account` ended with 429s that outlasted its in-attempt retries."""
        budget = self.budgets.get(account)
        if budget is None:
            return
        self.budgets[account] = budget = budget.on_rate_limited(now)
        self.metrics.creation_budget.labels(account=account).set(budget.allowed(now))
        log.warning("provider rate limit persists", account=account, creations_per_window=budget.allowed(now))

    def take_out_of_rotation(self, account: str, why: str) -> bool:
        """The account's key was refused (bad key, no credits): no more attempts go there until
        the operator restarts. Returns whether another account is still in rotation."""
        if account not in self.out_of_rotation:
            self.out_of_rotation[account] = why
            self.metrics.account_in_rotation.labels(account=account).set(0)
            log.error("provider account taken out of rotation", account=account, reason=why)
        return any(a.name not in self.out_of_rotation for a in self.accounts)

    def rate_limit_delay(self, account: str, now: float) -> float:
        """How long a rate-limited attempt waits before it is queued again: a whole provider
        window, longer if the account's creation budget is still reduced."""
        budget = self.budgets.get(account)
        recovers = budget.recovers_at(now) if budget else None
        wait = self.settings.provider_rate_window_seconds
        return max(wait, (recovers or now) - now)

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run passes until cancelled."""
        log.info("admission loop started", accounts=[a.name for a in self.accounts])
        try:
            while True:
                self._wanted.clear()
                try:
                    wake = await self.run_pass()
                except Exception:
                    log.exception("admission pass failed; trying again")
                    wake = self.clock() + self.settings.admission_interval_seconds
                delay = self.settings.resync_interval_seconds
                if wake is not None:
                    delay = min(delay, max(0.0, wake - self.clock()))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wanted.wait()
        finally:
            for task in list(self._tasks.values()):
                task.cancel()
            log.info("admission loop stopped")

    async def run_pass(self) -> float | None:
        """One pass; returns when the next one is due by time alone (None: only on a trigger)."""
        began = time.perf_counter()
        listed = await self.store.list()
        gens = [g for g in listed if not g.deleting]
        now = self.clock()
        self._keep_moving(gens, now)
        queued = [g for g in gens if g.phase is Phase.QUEUED]
        running = [g for g in gens if g.phase is Phase.RUNNING]
        queue = [
            QueueItem(
                g.name,
                g.spec.user_id,
                g.requested_at if g.requested_at is not None else now,
                g.spec.priority,
                g.not_before,
            )
            for g in queued
        ]
        states = account_states(
            self.accounts,
            self._starts_by_account(listed, now),
            Counter(g.account for g in running),
            self.budgets,
            self.out_of_rotation,
            now,
        )
        decided = plan(
            queue,
            [RunningItem(g.name, g.spec.user_id, g.account) for g in running],
            states,
            per_user=self.settings.per_user_concurrency,
            now=now,
            cap=self.settings.running_cap,
        )
        started = await self._start_all(decided.starts, now)
        wake = decided.wake_at
        left, writes = await self._show_positions(queued, queue, started)
        if left:
            wake = now  # positions left to write: another pass at once
        self._record(gens, queued, running, started, decided, now)
        seconds = time.perf_counter() - began
        self.pass_seconds.append(seconds)
        self.pass_writes.append(len(started) + writes)
        self.metrics.admission_pass_seconds.observe(seconds)
        return wake

    # --- parts of a pass -----------------------------------------------------------------------

    async def _start_all(self, starts: Iterable[tuple[str, str]], now: float) -> set[str]:
        """Start the planned attempts side by side (each start is several round trips: the Job,
        the status, the database, the user's progress message), but create their Jobs strictly
        in plan order: start k creates its Job only after start k−1 created (or skipped) its own."""
        started: set[str] = set()
        plan_ = list(starts)
        turns = [asyncio.Event() for _ in plan_]
        slots = asyncio.Semaphore(PARALLEL_STARTS)

        async def one(k: int, name: str, account: str) -> None:
            async def my_turn() -> None:
                if k:
                    await turns[k - 1].wait()

            try:
                async with slots:
                    if await self.starter.start_attempt(name, account, now, turn=(my_turn, turns[k].set)):
                        started.add(name)
                        self._recent[name] = (account, now)
            except Exception:
                log.exception("could not start the attempt", generation=name, account=account)
            finally:
                turns[k].set()

        await asyncio.gather(*(one(k, name, account) for k, (name, account) in enumerate(plan_)))
        return started

    def _keep_moving(self, gens: Iterable[Generation], now: float) -> None:
        """Pending ones are enqueued; unsettled ones not looked at for a resync interval are
        reconciled (a lost watch event, a step a crash interrupted)."""
        interval = self.settings.resync_interval_seconds
        due: list[str] = []
        alive = set()
        for gen in gens:
            alive.add(gen.name)
            if gen.phase is Phase.QUEUED or gen.settled:
                continue
            first = self._looked_at.setdefault(gen.name, now)
            if gen.phase is Phase.PENDING or now - first >= interval:
                due.append(gen.name)
        for name in list(self._looked_at):
            if name not in alive:
                del self._looked_at[name]
        for name in due[:MAX_RESYNCS_PER_PASS]:
            if name in self._tasks:
                continue
            self._looked_at[name] = now
            self._tasks[name] = asyncio.create_task(self._resync(name), name=f"resync-{name}")

    async def _resync(self, name: str) -> None:
        try:
            await self.starter.reconcile(name)
        except Exception:
            log.exception("resync failed; the next pass tries again", generation=name)
        finally:
            self._tasks.pop(name, None)

    def _starts_by_account(self, gens: Iterable[Generation], now: float) -> dict[str, list[float]]:
        """Each account's attempt starts: the cluster's record (every object's `startedAt`),
        and this operator's own starts of the last window where the record lacks them."""
        window = self.settings.provider_rate_window_seconds
        latest: dict[str, tuple[str, float]] = {}
        for gen in gens:
            started = gen.started_at
            if started is not None:
                latest[gen.name] = (gen.account, started)
        for name, (account, at) in list(self._recent.items()):
            if at <= now - window:
                del self._recent[name]
            elif name not in latest or latest[name][1] < at - 0.5:
                latest[name] = (account, at)
        starts: dict[str, list[float]] = {}
        for account, at in latest.values():
            starts.setdefault(account, []).append(at)
        return starts

    def seen(self, name: str) -> None:
        """The reconciler just looked at `name` (no resync needed for an interval)."""
        self._looked_at[name] = self.clock()

    async def _show_positions(
        self, queued: list[Generation], queue: list[QueueItem], started: set[str]
    ) -> tuple[bool, int]:
        """Write the positions users would see differently: (some were left for later, writes)."""
        positions = queue_positions(q for q in queue if q.name not in started)
        due: list[tuple[int, str, int]] = []
        for gen in queued:
            position = positions.get(gen.name)
            if position is None:
                continue
            shown = shown_position(position)
            if gen.status.get("queuePosition") != shown:
                due.append((position, gen.name, shown))
        due.sort()  # the head of the queue first
        slots = asyncio.Semaphore(PARALLEL_STARTS)

        async def write(name: str, shown: int) -> None:
            async with slots:
                try:
                    await self.starter.show_position(name, shown)
                except Exception:
                    log.exception("could not show the queue position", generation=name)

        batch = due[:MAX_POSITION_WRITES]
        await asyncio.gather(*(write(name, shown) for _p, name, shown in batch))
        self.metrics.position_writes.inc(len(batch))
        return len(due) > len(batch), len(batch)

    def _record(
        self,
        gens: list[Generation],
        queued: list[Generation],
        running: list[Generation],
        started: set[str],
        decided: Plan,
        now: float,
    ) -> None:
        counts = Counter(str(g.phase) for g in gens)
        counts[str(Phase.QUEUED)] -= len(started)
        counts[str(Phase.RUNNING)] += len(started)
        self.metrics.set_phase_counts(counts)
        self.metrics.queue_depth.set(len(queued) - len(started))
        self.metrics.running_jobs.set(len(running) + len(started))
        self.metrics.last_admission.set(now)
        self.metrics.admission_passes.inc()
        for name, budget in self.budgets.items():
            self.metrics.creation_budget.labels(account=name).set(budget.allowed(now))
        self.last_plan = replace(decided, starts=tuple(s for s in decided.starts if s[0] in started))
        self.last_pass = self.clock()
        self.passes += 1
