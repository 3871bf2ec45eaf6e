"""Provider storms: every task creation refused with 429 for a while, and bursts of 5xx on task
creation, status polls and downloads. Generations retry (rate limits after the provider's
window, with the creation budget halved while refusals persist), resume their checkpointed task after a failed poll, and
are refunded once when they run out of attempts."""

from __future__ import annotations

import pytest

from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


async def test_a_429_storm_backs_off_retries_and_refunds_the_exhausted(fault_env: FaultEnv) -> None:
    """A storm of 24 refused creations (counted, not timed) over 14 generations with 3 tries
    each: every refusal is one failed attempt; the exhausted are refunded once, the rest
    delivered; the creation budget was cut and the concurrency never was."""
    env, cluster, kie = fault_env.env, fault_env.cluster, fault_env.kie
    specs = [await fault_env.seed(3000 + i, f"storm{i}") for i in range(14)]
    names = [s.name for s in specs]
    refusals = 24
    kie.refuse_next(refusals)
    async with fault_env.kubelet() as kubelet:
        running = await env.start(rate_limit_max_attempts=3)
        reconciler = running.runtime.reconciler
        assert reconciler is not None
        for spec in specs:
            await cluster.create_vg(spec)
        await fault_env.settled(names, timeout=90)

    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    assert len(kie.refused) >= refusals and kie.storm_left == 0  # (+ any near-miss of the window)
    failed = [n for n in names if cluster.phase(n) == "Failed"]
    delivered = [n for n in names if cluster.phase(n) == "Delivered"]
    # Each refusal failed exactly one attempt (a refused creation makes no task to resume);
    # with 3 tries each, at most a third of the refusals can have exhausted a generation.
    rate_limited_attempts = sum(
        cluster.status(n)["attempts"] - (1 if cluster.phase(n) == "Delivered" else 0) for n in names
    )
    assert rate_limited_attempts == len(kie.refused)
    assert len(failed) <= len(kie.refused) // 3 and len(delivered) + len(failed) == len(names)
    for name in failed:
        status = cluster.status(name)
        assert status["error"]["class"] == "RATE_LIMIT" and status["attempts"] == 3
        assert status["refunded"] is True
    budget = reconciler.admission.budgets["default"]
    assert budget.last_refusal is not None and budget.reduced is not None and budget.reduced < budget.limit
    assert env.settings.running_cap == reconciler.settings.running_cap  # concurrency untouched


async def test_5xx_bursts_retry_resume_the_task_and_refund_the_exhausted(fault_env: FaultEnv) -> None:
    env, cluster, kie = fault_env.env, fault_env.cluster, fault_env.kie
    kie.fail("createTask", times=8, code=500, http_status=500)
    kie.fail("recordInfo", times=14, code=500, http_status=503)
    kie.fail("download", times=6, code=502, http_status=502)
    specs = [await fault_env.seed(3100 + i, f"fivexx{i}") for i in range(12)]
    names = [s.name for s in specs]
    async with fault_env.kubelet() as kubelet:
        await env.start()
        for spec in specs:
            await cluster.create_vg(spec)
        await fault_env.settled(names, timeout=90)

    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    assert len(kie.calls("createTask")) >= 8
    # A failed poll or download kept the checkpoint: a later attempt resumed the same task.
    resumed = [a for a in kubelet.attempts if not a.needed_task]
    assert resumed
    for name in names:
        status = cluster.status(name)
        if status["phase"] == "Failed":
            assert status["error"]["class"] == "TEMPORARY" and status["attempts"] == 3
    assert sum(cluster.phase(n) == "Delivered" for n in names) >= 8
