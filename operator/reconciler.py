"""The reconciler: admission and settlement of VideoGenerations, over the ports in ports.py.
No kopf and no kubernetes here — operator/handlers.py only routes kopf's events and timers to
`observe`, `job_changed`, `reconcile`, `request_admission` and `finalize`; the local controller
can drive the same class with its own store and executor.

How it stays correct when replayed (restarts, duplicate events, two triggers at once):
- Every decision is made on a fresh read of the object under a per-generation lock, by core's
  pure functions (`decide`, `admit`, `on_delivery_failure`, `AdaptiveLimit`, `CreationWindow`).
- Each step writes its result to the status before the next step starts, so a restarted
  operator resumes at the step that did not finish.
- A Job is created before the status says Running, under a deterministic name per attempt: a
  replay of the start gets "already exists" for the same attempt, never a second Job.
- The refund is idempotent in the ledger; the refund event and metric count only a new refund.
- Delivery claims each try in the status (`deliveryAttempts`) before sending: the video is
  delivered at least once, with at most `delivery_attempts` tries in all.
- The failure notice is claimed (`Notified=Unknown`) before it is sent, so it is sent at most
  once. A crash in that instant loses the notice but never doubles it; the user still sees the
  failure in the progress message (edited before the claim, again on every replay) and the
  credit in the balance. A notice twice would be the worse error: it reads like two failures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from vidgen.core.admission import EXACT_POSITIONS
from vidgen.core.callbacks import again_data
from vidgen.core.errors import ACCOUNT_FAILURE_CODES, ErrorClass, Failure, RetryLimits
from vidgen.core.lifecycle import (
    TERMINAL,
    Action,
    AwaitAdmission,
    Deliver,
    Enqueue,
    Fail,
    MarkGenerated,
    Nothing,
    Phase,
    Refund,
    Requeue,
    Wait,
    check_transition,
    decide,
    on_delivery_failure,
)
from vidgen.core.logging import get_logger
from vidgen.core.models import video_key
from vidgen.core.ports import (
    Button,
    Delivery,
    Executor,
    GenerationStore,
    NotSent,
    Progress,
    Sent,
    delivery_wait,
)
from vidgen.core.result import RunnerResult
from vidgen.core.settings import Settings
from vidgen.core.status import (
    CANCELLED,
    Generation,
    failure_message_key,
    iso,
    notify_claim,
    notify_done,
    refund_patch,
    to_delivered,
    to_delivering,
    to_failed,
    to_generated,
    to_queued,
    to_requeued,
    to_running,
)
from vidgen.core.texts import t

from .admission import Admission, Turn
from .metrics import Metrics
from .settlement import Settlement
from .termination import job_finished

log = get_logger(__name__)

#: Steps one reconcile may take (Generated → 3 delivery tries → Failed → refund → notice is 7).
MAX_STEPS = 16


class Gone(Exception):
    """The object disappeared while being worked on."""


@dataclass(frozen=True)
class Step:
    again: bool = False  # take another step on a fresh read
    admit: bool = False  # run an admission pass afterwards


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        store: GenerationStore,
        executor: Executor,
        settlement: Settlement,
        delivery: Delivery,
        progress: Progress,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.executor = executor
        self.settlement = settlement
        self.delivery = delivery
        self.progress = progress
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.limits = RetryLimits(
            max_attempts=settings.max_attempts,
            rate_limit_max_attempts=settings.rate_limit_max_attempts,
            base_delay=settings.retry_base_delay_seconds,
            max_delay=settings.retry_max_delay_seconds,
        )
        self._locks: dict[str, asyncio.Lock] = {}
        self.admission = Admission(settings, store, self, metrics, clock=clock)
        metrics.concurrency_limit.set(settings.running_cap)

    # --- entry points --------------------------------------------------------------------------

    async def observe(self, gen: Generation) -> None:
        """A watch event for a generation. Running ones move on their Job's events; queued ones
        on admission (one pass for a burst of events); settled ones never."""
        if gen.settled:
            self.forget(gen.name)  # nothing more will happen to it
            return
        if gen.deleting or gen.phase is Phase.RUNNING:
            return
        if gen.phase is Phase.QUEUED:
            self.admission.request()
            return
        await self.reconcile(gen.name)

    async def job_changed(self, generation: str, job: Mapping[str, Any] | None) -> None:
        """A watch event for an attempt's Job (None: it was deleted)."""
        if job is None or job_finished(job):
            await self.reconcile(generation)

    async def reconcile(self, name: str) -> None:
        async with self._lock(name):
            wants_admission = await self._settle(name, finalizing=False)
        self.admission.seen(name)
        if wants_admission:
            self.admission.request()

    async def finalize(self, name: str) -> None:
        """The generation is being deleted: stop its attempt, and refund and tell the user unless
        it had finished. Returns when the deletion may proceed."""
        async with self._lock(name):
            await self._settle(name, finalizing=True)
        self._locks.pop(name, None)
        self.admission.request()

    def forget(self, name: str) -> None:
        lock = self._locks.get(name)
        if lock is not None and not lock.locked():
            del self._locks[name]

    def request_admission(self) -> None:
        """Ask the admission loop for a pass (it runs in its own task)."""
        self.admission.request()

    # --- what admission asks of the reconciler -----------------------------------------------

    async def start_attempt(self, name: str, account: str, now: float, *, turn: Turn | None = None) -> bool:
        """Start the next attempt of a queued generation on `account`: the Job (or process)
        first, then the status says Running. False if it is no longer startable. `turn` orders
        the Job creations of starts that run side by side."""
        async with self._lock(name):
            gen = await self.store.get(name)
            if gen is None or gen.deleting or gen.phase is not Phase.QUEUED:
                return False
            if gen.not_before is not None and gen.not_before > now:
                return False
            attempt = gen.attempts + 1
            if turn is not None:
                await turn[0]()
            try:
                job = await self.executor.start(gen.with_status({"account": account}), attempt)
            finally:
                if turn is not None:
                    turn[1]()
            gen = await self._transition(
                gen,
                to_running(gen, attempt, job, now, account),
                "Started",
                f"attempt {attempt} runs as {job} on account {account}",
            )
            await self.settlement.started(name, gen.spec.user_id, attempt, job, now)
            self.metrics.admissions.inc()
            await self._show(gen, "progress.running", attempt=attempt)
            return True

    async def show_position(self, name: str, position: int) -> None:
        """Show a queued generation's position (as `shown_position` rounds it)."""
        async with self._lock(name):
            gen = await self.store.get(name)
            if gen is None or gen.deleting or gen.phase is not Phase.QUEUED:
                return
            updated = await self.store.patch_status(name, {"queuePosition": position})
            if updated is None:
                return
            key = "progress.queued" if position <= EXACT_POSITIONS else "progress.queued_beyond"
            if gen.attempts:
                key += "_retry"
            await self._show(updated, key, attempt=gen.attempts + 1, position=position)

    # --- settlement ----------------------------------------------------------------------------

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _settle(self, name: str, *, finalizing: bool) -> bool:
        wants_admission = False
        try:
            for _ in range(MAX_STEPS):
                gen = await self.store.get(name)
                if gen is None or (gen.deleting and not finalizing):
                    return wants_admission
                now = self.clock()
                if finalizing and gen.phase not in TERMINAL:
                    await self.executor.stop(gen)
                    await self._fail(gen, CANCELLED, now, count=False)
                    wants_admission = True
                    continue
                outcome = await self.executor.outcome(gen) if gen.phase is Phase.RUNNING else None
                if outcome is not None and outcome.result is not None:
                    self._account_signals(gen, outcome.result, now)
                    if await self._moved_off_a_refused_account(gen, outcome.result, now):
                        wants_admission = True
                        continue
                delay = self.admission.rate_limit_delay(gen.account, now)
                action = decide(gen.view(), outcome, self.limits, now, delay)
                step = await self._apply(gen, action, now)
                wants_admission = wants_admission or step.admit
                if not step.again:
                    return wants_admission
            log.warning("reconcile stopped after too many steps", generation=name)
        except Gone:
            pass
        return wants_admission

    async def _apply(self, gen: Generation, action: Action, now: float) -> Step:
        if isinstance(action, Enqueue):
            gen = await self._transition(gen, to_queued(gen, now), "Queued", "waiting for admission")
            await self.settlement.queued(gen.name, now)
            return Step(admit=True)
        if isinstance(action, AwaitAdmission):
            return Step(admit=True)
        if isinstance(action, Wait):
            return Step()
        if isinstance(action, MarkGenerated):
            await self._generated(gen, action.result)
            return Step(again=True, admit=True)
        if isinstance(action, Requeue):
            await self._requeue(gen, action.failure, action.delay, now)
            return Step(admit=True)
        if isinstance(action, Fail):
            await self._fail(gen, action.failure, now, refund=action.refund, count=gen.phase is Phase.RUNNING)
            return Step(again=True, admit=True)
        if isinstance(action, Deliver):
            return Step(again=await self._deliver(gen, action.attempt), admit=True)
        if isinstance(action, Refund):
            await self._refund(gen, now)
            return Step(again=True)
        assert isinstance(action, Nothing)
        if gen.phase is Phase.FAILED and not gen.notified:
            await self._notify(gen, now)
            return Step(admit=True)
        return Step()

    async def _transition(
        self, gen: Generation, patch: Mapping[str, Any], reason: str, message: str, *, warning: bool = False
    ) -> Generation:
        target = Phase(patch["phase"])
        if target is not gen.phase:
            check_transition(gen.phase, target)
        updated = await self.store.patch_status(gen.name, patch)
        if updated is None:
            raise Gone(gen.name)
        if target is not gen.phase:
            self.metrics.transitions.labels(phase=str(target)).inc()
        log.info("transition", generation=gen.name, phase=str(target), reason=reason, detail=message)
        await self.store.record_event(updated, reason, message, warning=warning)
        return updated

    def _count_failure(self, failure: Failure, now: float) -> None:
        self.metrics.errors.labels(error_class=str(failure.error_class)).inc()
        if failure.error_class is ErrorClass.RATE_LIMIT:
            self.metrics.rate_limited.inc()

    async def _moved_off_a_refused_account(self, gen: Generation, result: RunnerResult, now: float) -> bool:
        """The provider refused the account's key (401/402/433): take the account out of
        rotation and, if another account remains, queue the generation again at once — a key
        problem is not the user's, and retrying it into a refund would be wrong."""
        if result.ok or result.code not in ACCOUNT_FAILURE_CODES:
            return False
        if not self.admission.take_out_of_rotation(gen.account, str(result.code)):
            return False  # no account left: the failure takes its course (refund, notice)
        failure = result.failure()
        await self.store.record_event(
            gen, "AccountOutOfRotation", f"account {gen.account}: {result.code}; moving on", warning=True
        )
        await self._requeue(gen, failure, 0.0, now)
        return True

    def _account_signals(self, gen: Generation, result: RunnerResult, now: float) -> None:
        """What an attempt's result says about its provider account (read once per attempt: the
        next step moves the generation out of Running)."""
        absorbed = result.rateLimitRetries or 0
        if absorbed:
            self.metrics.rate_limit_absorbed.inc(absorbed)
        if not result.ok and result.error_class is ErrorClass.RATE_LIMIT:
            self.admission.on_rate_limited(gen.account, now)

    async def _generated(self, gen: Generation, result: RunnerResult) -> None:
        gen = await self._transition(gen, to_generated(gen, result), "Generated", f"video {result.video}")
        await self.settlement.generated(gen.name, gen.spec.user_id, gen.attempts, result)
        await self._show(gen, "progress.generated")

    async def _requeue(self, gen: Generation, failure: Failure, delay: float, now: float) -> None:
        self._count_failure(failure, now)
        self.metrics.retries.labels(error_class=str(failure.error_class)).inc()
        not_before = now + delay
        gen = await self._transition(
            gen,
            to_requeued(gen, failure, not_before),
            "Retrying",
            f"attempt {gen.attempts} failed ({failure.error_class} {failure.code}); next not before {iso(not_before)}",
            warning=True,
        )
        await self.settlement.requeued(gen.name, gen.attempts, failure, not_before)

    async def _fail(
        self,
        gen: Generation,
        failure: Failure,
        now: float,
        *,
        refund: bool = True,
        delivery: bool = False,
        count: bool = False,
    ) -> None:
        if count:
            self._count_failure(failure, now)
        gen = await self._transition(
            gen,
            to_failed(gen, failure, now),
            "Failed",
            f"{failure.error_class} {failure.code}: {failure.detail}"[:1000],
            warning=True,
        )
        await self.settlement.failed(
            gen.name, gen.spec.user_id, gen.attempts, failure, now, delivery=delivery
        )
        self._observe_duration(gen, now)
        if not refund:
            await self.store.patch_status(gen.name, refund_patch(gen, False, "NotRefundable", now))

    async def _deliver(self, gen: Generation, attempt: int) -> bool:
        """One delivery try; returns whether to take another step."""
        limit = self.settings.delivery_attempts
        if attempt > limit:  # the tries were used up before a restart
            action = on_delivery_failure(gen.view(), limit, "delivery tries used up")
            assert isinstance(action, Fail)
            await self._fail(gen, action.failure, self.clock(), delivery=True)
            return True
        gen = await self._transition(
            gen, to_delivering(gen, attempt), "Delivering", f"try {attempt} of {limit}"
        )
        await self.settlement.delivering(gen.name, attempt)
        spec = gen.spec
        balance = await self.settlement.balance(spec.user_id)
        outcome = await self.delivery.send_video(
            spec.chat_id,
            str(gen.result.get("video") or video_key(gen.name)),
            caption=t("delivery.caption", spec.language, balance=balance) if balance is not None else None,
            buttons=self._again_buttons(gen),
        )
        now = self.clock()
        if isinstance(outcome, Sent):
            gen = await self._transition(
                gen,
                to_delivered(gen, outcome.file_id, now),
                "Delivered",
                f"sent to chat {spec.chat_id} {'by URL' if outcome.by_url else 'as an upload'}",
            )
            self.metrics.deliveries.inc()
            seconds = self._observe_duration(gen, now)
            await self.settlement.delivered(gen.name, spec.user_id, attempt, outcome.file_id, now, seconds)
            await self._show(gen, "progress.delivered", final=True)
            return False
        assert isinstance(outcome, NotSent)
        self.metrics.delivery_failures.inc()
        view = replace(gen.view(), delivery_attempts=limit if outcome.permanent else attempt)
        action = on_delivery_failure(view, limit, outcome.detail)
        if isinstance(action, Fail):
            await self._fail(gen, action.failure, now, delivery=True)
            return True
        await self.store.record_event(gen, "DeliveryFailed", f"try {attempt}: {outcome.detail}", warning=True)
        await self.sleep(
            delivery_wait(
                attempt,
                outcome,
                self.settings.delivery_retry_delay_seconds,
                self.settings.delivery_max_wait_seconds,
            )
        )
        return True

    async def _refund(self, gen: Generation, now: float) -> None:
        error_class = str(gen.error.error_class) if gen.error else str(ErrorClass.UNKNOWN)
        outcome = await self.settlement.refund(gen.name, gen.spec.user_id, error_class)
        updated = await self.store.patch_status(
            gen.name, refund_patch(gen, outcome.owed, "Refunded" if outcome.owed else "NotDebited", now)
        )
        if updated is None:
            raise Gone(gen.name)
        if outcome.created:
            self.metrics.refunds.labels(error_class=error_class).inc()
            await self.store.record_event(
                updated,
                "Refunded",
                f"the credit went back to user {gen.spec.user_id} (balance {outcome.balance})",
            )

    async def _notify(self, gen: Generation, now: float) -> None:
        failure = gen.error or CANCELLED
        spec = gen.spec
        reason = t(failure_message_key(failure), spec.language)
        await self._show(gen, "progress.failed", final=True, reason=reason)
        claimed = await self.store.patch_status(gen.name, notify_claim(gen, now))
        if claimed is None:
            raise Gone(gen.name)
        text = reason
        if gen.status.get("refunded"):
            balance = await self.settlement.balance(spec.user_id)
            if balance is not None:
                text += "\n" + t("refund.balance", spec.language, balance=balance)
        problem: NotSent | None = None
        for attempt in range(1, self.settings.delivery_attempts + 1):
            problem = await self.delivery.send_text(spec.chat_id, text)
            if problem is None or problem.permanent or attempt == self.settings.delivery_attempts:
                break
            await self.sleep(
                delivery_wait(
                    attempt,
                    problem,
                    self.settings.delivery_retry_delay_seconds,
                    self.settings.delivery_max_wait_seconds,
                )
            )
        detail = problem.detail if problem else ""
        await self.store.patch_status(gen.name, notify_done(claimed, problem is None, detail, self.clock()))

    @staticmethod
    def _again_buttons(gen: Generation) -> tuple[Button, ...]:
        data = again_data(gen.name)
        return () if data is None else (Button(t("button.generate_again", gen.spec.language), data),)

    def _observe_duration(self, gen: Generation, now: float) -> float | None:
        start = gen.requested_at
        if start is None:
            return None
        seconds = max(0.0, now - start)
        self.metrics.duration.observe(seconds)
        return seconds

    async def _show(self, gen: Generation, key: str, *, final: bool = False, **values: Any) -> None:
        spec = gen.spec
        await self.progress.show(
            spec.chat_id, spec.status_message_id, t(key, spec.language, **values), final=final
        )
