import pytest

from vidgen.core.errors import ErrorClass, Failure, InvalidTransition, RetryLimits
from vidgen.core.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    AwaitAdmission,
    Deliver,
    Enqueue,
    Fail,
    GenerationView,
    JobOutcome,
    JobState,
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
from vidgen.core.result import RunnerResult

LIMITS = RetryLimits(max_attempts=3, rate_limit_max_attempts=4, base_delay=10, max_delay=100)
OK = RunnerResult.success(video="outputs/x.mp4", bytes=10, duration=5.0)


def view(phase: Phase, **kw) -> GenerationView:
    return GenerationView(name="vg-1-a", phase=phase, **kw)


def test_terminal_phases_have_no_exits() -> None:
    for phase in TERMINAL:
        assert TRANSITIONS[phase] == frozenset()
    with pytest.raises(InvalidTransition):
        check_transition(Phase.DELIVERED, Phase.QUEUED)
    check_transition(Phase.RUNNING, Phase.QUEUED)


def test_every_phase_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(Phase)


def test_pending_is_enqueued_and_queued_awaits_admission() -> None:
    assert decide(view(Phase.PENDING), None, LIMITS, now=0) == Enqueue()
    assert decide(view(Phase.QUEUED), None, LIMITS, now=0) == AwaitAdmission()
    assert decide(view(Phase.QUEUED, not_before=50), None, LIMITS, now=10) == Wait(until=50)


def test_running_job_outcomes() -> None:
    running = view(Phase.RUNNING, attempts=1)
    assert decide(running, JobOutcome(JobState.ACTIVE), LIMITS, now=0) == Wait()
    assert decide(running, JobOutcome(JobState.SUCCEEDED, OK), LIMITS, now=0) == MarkGenerated(OK)
    lost = decide(running, JobOutcome(JobState.MISSING), LIMITS, now=0)
    assert isinstance(lost, Requeue) and lost.failure.code == "job_lost"
    assert isinstance(decide(running, None, LIMITS, now=0), Requeue)
    silent = decide(running, JobOutcome(JobState.FAILED), LIMITS, now=0)
    assert isinstance(silent, Requeue) and silent.failure.code == "no_result"


@pytest.mark.parametrize(
    ("cls", "attempt", "kind"),
    [
        (ErrorClass.TEMPORARY, 1, Requeue),
        (ErrorClass.TEMPORARY, 3, Fail),
        (ErrorClass.RATE_LIMIT, 2, Requeue),
        (ErrorClass.USER_VIOLATION, 1, Fail),
        (ErrorClass.BILLING, 1, Fail),
    ],
)
def test_runner_failures_go_through_policy(cls, attempt, kind) -> None:
    result = RunnerResult.failed(Failure(cls, "x", "detail"))
    action = decide(view(Phase.RUNNING, attempts=attempt), JobOutcome(JobState.FAILED, result), LIMITS, now=0)
    assert isinstance(action, kind)
    if isinstance(action, Fail):
        assert action.refund and action.failure.error_class is cls


def test_generated_and_delivering_deliver() -> None:
    assert decide(view(Phase.GENERATED), None, LIMITS, now=0) == Deliver(1)
    assert decide(view(Phase.DELIVERING, delivery_attempts=1), None, LIMITS, now=0) == Deliver(2)


def test_delivery_failures_give_up_after_the_limit() -> None:
    assert on_delivery_failure(view(Phase.DELIVERING, delivery_attempts=2), 3) == Deliver(3)
    action = on_delivery_failure(view(Phase.DELIVERING, delivery_attempts=3), 3, "403")
    assert isinstance(action, Fail) and action.refund and action.message_key == "error.delivery"


def test_failed_unrefunded_is_refunded_once() -> None:
    assert decide(view(Phase.FAILED), None, LIMITS, now=0) == Refund()
    assert decide(view(Phase.FAILED, refunded=True), None, LIMITS, now=0) == Nothing()
    assert decide(view(Phase.DELIVERED), None, LIMITS, now=0) == Nothing()
