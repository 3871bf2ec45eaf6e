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
    each: the runners absorb refusals within their attempts; an attempt whose refusals outlast
    its patience fails RATE_LIMIT and cuts the creation budget (never the concurrency); the
    exhausted are refunded once, the rest delivered."""
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
    # Every refusal is accounted for: absorbed within an attempt (its result line counts it) or
    # the last one of an attempt whose patience ran out (RATE_LIMIT).
    results = [a.result for a in kubelet.attempts if a.result is not None]
    absorbed = sum(r.rateLimitRetries for r in results)
    exhausted = sum(
        1 for r in results if not r.ok and r.error_class is not None and str(r.error_class) == "RATE_LIMIT"
    )
    assert absorbed + exhausted == len(kie.refused)
    assert len(delivered) + len(failed) == len(names)
    for name in failed:
        status = cluster.status(name)
        assert status["error"]["class"] == "RATE_LIMIT" and status["attempts"] == 3
        assert status["refunded"] is True
    if exhausted:  # refusals that outlasted an attempt's patience cut the creation budget …
        budget = reconciler.admission.budgets["default"]
        assert (
            budget.last_refusal is not None and budget.reduced is not None and budget.reduced < budget.limit
        )
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
