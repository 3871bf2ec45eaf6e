"""Reading an attempt's outcome: the Job's state and the runner's result line from its pod's
termination message (vidgen.core.result), or from a local process. Pure functions over the
objects as the Kubernetes API returns them (dicts); no kopf, no kubernetes client.

A finished Job with no readable result is left to `core.lifecycle.on_job` (TEMPORARY
`no_result`), except where Kubernetes says why: the Job's deadline or an OOM kill become a
TEMPORARY failure with that code, so an SRE sees the cause in `status.error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.lifecycle import JobOutcome, JobState
from vidgen.core.result import RunnerResult, decode
from vidgen.core.status import parse_time

RUNNER_CONTAINER = "runner"
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")

_SUCCESS_CONDITIONS = ("Complete", "SuccessCriteriaMet")
_FAILURE_CONDITIONS = ("Failed", "FailureTarget")


def _true_conditions(job: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    conds = (job.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conds if str(c.get("status")) == "True"}


def job_state(job: Mapping[str, Any] | None) -> JobState:
    if job is None:
        return JobState.MISSING
    true = _true_conditions(job)
    if any(c in true for c in _SUCCESS_CONDITIONS):
        return JobState.SUCCEEDED
    if any(c in true for c in _FAILURE_CONDITIONS):
        return JobState.FAILED
    status = job.get("status") or {}
    if int(status.get("succeeded") or 0) > 0:
        return JobState.SUCCEEDED
    if int(status.get("failed") or 0) > int((job.get("spec") or {}).get("backoffLimit") or 0):
        return JobState.FAILED
    return JobState.ACTIVE


def job_finished(job: Mapping[str, Any] | None) -> bool:
    return job_state(job) in (JobState.SUCCEEDED, JobState.FAILED)


def _job_failure_reason(job: Mapping[str, Any]) -> str | None:
    true = _true_conditions(job)
    for cond in _FAILURE_CONDITIONS:
        if cond in true:
            return str(true[cond].get("reason") or "") or None
    return None


def pods_of_job(
    pods: Iterable[Mapping[str, Any]], job_name: str, job_uid: str | None = None
) -> list[Mapping[str, Any]]:
    """The Job's pods, newest first (by start time, then creation time). With the Job's uid,
    pods of an earlier Job of the same name are left out."""
    mine = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        owners = meta.get("ownerReferences") or []
        named = any(labels.get(label) == job_name for label in JOB_NAME_LABELS) or any(
            o.get("kind") == "Job" and o.get("name") == job_name for o in owners
        )
        pod_uid = next((labels[k] for k in CONTROLLER_UID_LABELS if k in labels), None)
        if named and (job_uid is None or pod_uid is None or pod_uid == job_uid):
            mine.append(pod)

    def started(pod: Mapping[str, Any]) -> float:
        status = pod.get("status") or {}
        meta = pod.get("metadata") or {}
        return parse_time(status.get("startTime")) or parse_time(meta.get("creationTimestamp")) or 0.0

    return sorted(mine, key=started, reverse=True)


def _runner_status(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    named = [s for s in statuses if s.get("name") == RUNNER_CONTAINER]
    chosen = named or statuses
    return chosen[0] if chosen else None


def _terminated(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in ("state", "lastState"):
        terminated = (container.get(key) or {}).get("terminated")
        if terminated:
            return terminated  # type: ignore[no-any-return]
    return None


def termination_message(pod: Mapping[str, Any]) -> str | None:
    container = _runner_status(pod)
    terminated = _terminated(container) if container else None
    return (terminated or {}).get("message") or None


def read_result(pods: Iterable[Mapping[str, Any]]) -> RunnerResult | None:
    """The first valid result line among the pods (give them newest first)."""
    for pod in pods:
        result = decode(termination_message(pod))
        if result is not None:
            return result
    return None


def _kubernetes_failure(job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> Failure | None:
    reason = _job_failure_reason(job)
    if reason == "DeadlineExceeded":
        return Failure(ErrorClass.TEMPORARY, "deadline_exceeded", "the Job ran past activeDeadlineSeconds")
    for pod in pods:
        container = _runner_status(pod)
        terminated = _terminated(container) if container else None
        if terminated and terminated.get("reason") == "OOMKilled":
            return Failure(ErrorClass.TEMPORARY, "oom_killed", "the runner ran out of memory")
    return None


def job_outcome(job: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]]) -> JobOutcome:
    """What an attempt's Job looks like now (`pods`: the namespace's pods, or the Job's)."""
    state = job_state(job)
    if state not in (JobState.SUCCEEDED, JobState.FAILED):
        return JobOutcome(state)
    assert job is not None
    meta = job.get("metadata") or {}
    mine = pods_of_job(pods, str(meta.get("name")), meta.get("uid"))
    result = read_result(mine)
    if result is None:
        failure = _kubernetes_failure(job, mine)
        if failure is not None:
            result = RunnerResult.failed(failure)
    return JobOutcome(state, result)


def process_outcome(returncode: int | None, message: str | None) -> JobOutcome:
    """The same for a local runner process: `returncode` None while it runs; `message` is the
    content of its --termination-log file."""
    if returncode is None:
        return JobOutcome(JobState.ACTIVE)
    state = JobState.SUCCEEDED if returncode == 0 else JobState.FAILED
    return JobOutcome(state, decode(message))
