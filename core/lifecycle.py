"""The VideoGeneration lifecycle: phases, the transition table, and `decide`, the pure function
that both the kopf operator and the local controller call to know what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import (
    DELIVERY_FAILED_KEY,
    ErrorClass,
    Failure,
    GiveUp,
    InvalidTransition,
    Retry,
    RetryLimits,
    policy,
)
from .result import RunnerResult


class Phase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"
    GENERATED = "Generated"
    DELIVERING = "Delivering"
    DELIVERED = "Delivered"
    FAILED = "Failed"


TERMINAL = frozenset({Phase.DELIVERED, Phase.FAILED})

TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.QUEUED, Phase.FAILED}),
    Phase.QUEUED: frozenset({Phase.RUNNING, Phase.FAILED}),
    Phase.RUNNING: frozenset({Phase.GENERATED, Phase.QUEUED, Phase.FAILED}),
    Phase.GENERATED: frozenset({Phase.DELIVERING, Phase.FAILED}),
    Phase.DELIVERING: frozenset({Phase.DELIVERED, Phase.DELIVERING, Phase.FAILED}),
    Phase.DELIVERED: frozenset(),
    Phase.FAILED: frozenset(),
}


def can_transition(current: Phase, target: Phase) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: Phase, target: Phase) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(f"{current} → {target} is not allowed")


class JobState(StrEnum):
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSING = "missing"


@dataclass(frozen=True)
class JobOutcome:
    """What the attempt's Job (or local subprocess) looks like now."""

    state: JobState
    result: RunnerResult | None = None


@dataclass(frozen=True)
class GenerationView:
    """The part of a VideoGeneration's status that decisions need."""

    name: str
    phase: Phase
    attempts: int = 0
    not_before: float | None = None
    refunded: bool = False
    delivery_attempts: int = 0
    error: Failure | None = None


# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueue:
    """Pending → Queued."""


@dataclass(frozen=True)
class AwaitAdmission:
    """Queued: the admission pass decides when it runs."""


@dataclass(frozen=True)
class Wait:
    """Nothing to do until the Job changes (or `until`, a time)."""

    until: float | None = None


@dataclass(frozen=True)
class MarkGenerated:
    result: RunnerResult


@dataclass(frozen=True)
class Requeue:
    """Running → Queued for another attempt, not before now + delay."""

    failure: Failure
    delay: float


@dataclass(frozen=True)
class Fail:
    """→ Failed; refund if `refund`, and tell the user `message_key`."""

    failure: Failure
    message_key: str
    refund: bool = True


@dataclass(frozen=True)
class Deliver:
    """Generated/Delivering: send the video (attempt number `attempt`, 1-based)."""

    attempt: int


@dataclass(frozen=True)
class Refund:
    """Failed but not refunded yet (a replayed or interrupted settlement)."""


@dataclass(frozen=True)
class Nothing:
    pass


Action = Enqueue | AwaitAdmission | Wait | MarkGenerated | Requeue | Fail | Deliver | Refund | Nothing

NO_RESULT = Failure(ErrorClass.TEMPORARY, "no_result", "the runner wrote no result")
JOB_LOST = Failure(ErrorClass.TEMPORARY, "job_lost", "the Job or its pod disappeared")


def settle_failure(
    failure: Failure, attempt: int, limits: RetryLimits, rate_limit_delay: float | None = None
) -> Action:
    decision = policy(failure.error_class, attempt, limits, rate_limit_delay)
    if isinstance(decision, Retry):
        return Requeue(failure, decision.delay)
    assert isinstance(decision, GiveUp)
    return Fail(failure, decision.message_key, decision.refund)


def on_job(
    view: GenerationView, job: JobOutcome, limits: RetryLimits, rate_limit_delay: float | None = None
) -> Action:
    """Running: what the attempt's outcome means."""
    if job.state is JobState.ACTIVE:
        return Wait()
    result = job.result
    if result is not None and result.ok:
        return MarkGenerated(result)
    if result is not None:
        failure = result.failure()
    elif job.state is JobState.MISSING:
        failure = JOB_LOST
    else:
        failure = NO_RESULT
    return settle_failure(failure, max(1, view.attempts), limits, rate_limit_delay)


def on_delivery_failure(view: GenerationView, delivery_limit: int, detail: str = "") -> Action:
    """A delivery attempt failed; `view.delivery_attempts` counts the attempts made so far."""
    if view.delivery_attempts >= delivery_limit:
        return Fail(Failure(ErrorClass.TEMPORARY, "delivery_failed", detail), DELIVERY_FAILED_KEY, True)
    return Deliver(view.delivery_attempts + 1)


def decide(
    view: GenerationView,
    job: JobOutcome | None,
    limits: RetryLimits,
    now: float,
    rate_limit_delay: float | None = None,
) -> Action:
    """The next action for a generation. Pure: no I/O, `now` is passed in."""
    phase = view.phase
    if phase is Phase.PENDING:
        return Enqueue()
    if phase is Phase.QUEUED:
        if view.not_before is not None and view.not_before > now:
            return Wait(until=view.not_before)
        return AwaitAdmission()
    if phase is Phase.RUNNING:
        return on_job(view, job or JobOutcome(JobState.MISSING), limits, rate_limit_delay)
    if phase in (Phase.GENERATED, Phase.DELIVERING):
        return Deliver(view.delivery_attempts + 1)
    if phase is Phase.FAILED and not view.refunded:
        return Refund()
    return Nothing()
