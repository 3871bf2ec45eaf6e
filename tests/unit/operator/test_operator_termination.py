"""Reading an attempt's outcome from a Job and its pods (or a local process)."""

from __future__ import annotations

from typing import Any

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.lifecycle import JobState
from vidgen.core.result import RunnerResult, encode
from vidgen.operator.termination import (
    job_finished,
    job_outcome,
    job_state,
    pods_of_job,
    process_outcome,
    read_result,
)

OK = RunnerResult.success(video="outputs/vg-1-a.mp4", bytes=10, duration=8.0, model="veo3_fast")
VIOLATION = RunnerResult.failed(Failure(ErrorClass.USER_VIOLATION, "provider_422", "image has a real person"))


def job(
    name: str = "vg-1-a-a1", conditions: list[dict[str, Any]] | None = None, **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0},
        "status": {"conditions": conditions or [], **status},
    }


def pod(
    job_name: str = "vg-1-a-a1",
    message: str | None = None,
    started: str = "2026-11-25T10:00:00Z",
    reason: str = "Completed",
    last: bool = False,
) -> dict[str, Any]:
    terminated = {"exitCode": 0, "reason": reason, **({"message": message} if message else {})}
    container = {"name": "runner", ("lastState" if last else "state"): {"terminated": terminated}}
    return {
        "metadata": {"name": f"{job_name}-xyz", "labels": {"batch.kubernetes.io/job-name": job_name}},
        "status": {"startTime": started, "containerStatuses": [container]},
    }


def test_job_states() -> None:
    assert job_state(None) is JobState.MISSING
    assert job_state(job()) is JobState.ACTIVE
    assert job_state(job(conditions=[{"type": "Complete", "status": "True"}])) is JobState.SUCCEEDED
    assert job_state(job(conditions=[{"type": "SuccessCriteriaMet", "status": "True"}])) is JobState.SUCCEEDED
    assert job_state(job(conditions=[{"type": "Failed", "status": "True"}])) is JobState.FAILED
    assert job_state(job(conditions=[{"type": "FailureTarget", "status": "True"}])) is JobState.FAILED
    assert job_state(job(conditions=[{"type": "Failed", "status": "False"}])) is JobState.ACTIVE
    assert job_state(job(succeeded=1)) is JobState.SUCCEEDED
    assert job_state(job(failed=1)) is JobState.FAILED
    assert job_finished(job(succeeded=1)) and not job_finished(job()) and not job_finished(None)


def test_result_comes_from_the_newest_pod_of_that_job() -> None:
    pods = [
        pod(message=encode(VIOLATION), started="2026-11-25T10:00:00Z"),
        pod(message=encode(OK), started="2026-11-25T10:05:00Z"),
        pod(job_name="vg-1-a-a2", message=encode(VIOLATION), started="2026-11-25T11:00:00Z"),
    ]
    mine = pods_of_job(pods, "vg-1-a-a1")
    assert len(mine) == 2
    assert read_result(mine) == OK
    outcome = job_outcome(job(succeeded=1), pods)
    assert outcome.state is JobState.SUCCEEDED and outcome.result == OK


def test_failure_and_last_state_messages() -> None:
    outcome = job_outcome(job(failed=1), [pod(message=encode(VIOLATION), last=True)])
    assert outcome.state is JobState.FAILED
    assert outcome.result is not None and outcome.result.failure() == VIOLATION.failure()


def test_no_message_leaves_the_result_empty_unless_kubernetes_says_why() -> None:
    assert job_outcome(job(failed=1), [pod()]).result is None  # on_job makes it TEMPORARY no_result
    assert job_outcome(job(succeeded=1), []).result is None
    assert job_outcome(job(failed=1), [pod(message="garbage\nnot json")]).result is None
    deadline = job_outcome(
        job(conditions=[{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]), []
    )
    assert deadline.result is not None
    assert deadline.result.failure() == Failure(
        ErrorClass.TEMPORARY, "deadline_exceeded", "the Job ran past activeDeadlineSeconds"
    )
    oom = job_outcome(job(failed=1), [pod(reason="OOMKilled")])
    assert oom.result is not None and oom.result.code == "oom_killed"


def test_active_job_is_not_read() -> None:
    outcome = job_outcome(job(), [pod(message=encode(OK))])
    assert outcome.state is JobState.ACTIVE and outcome.result is None


def test_process_outcome_for_local_mode() -> None:
    assert process_outcome(None, None).state is JobState.ACTIVE
    done = process_outcome(0, encode(OK) + "\n")
    assert done.state is JobState.SUCCEEDED and done.result == OK
    failed = process_outcome(2, encode(VIOLATION))
    assert failed.state is JobState.FAILED and failed.result == VIOLATION
    assert process_outcome(1, "").result is None


def test_pods_of_an_earlier_job_of_the_same_name_are_left_out() -> None:
    old, new = pod(message=encode(VIOLATION)), pod(message=encode(OK), started="2026-11-25T09:00:00Z")
    old["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = "uid-old"
    new["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = "uid-new"
    current = job(succeeded=1)
    current["metadata"]["uid"] = "uid-new"
    assert pods_of_job([old, new], "vg-1-a-a1", "uid-new") == [new]
    assert job_outcome(current, [old]).result is None
    assert job_outcome(current, [old, new]).result == OK
