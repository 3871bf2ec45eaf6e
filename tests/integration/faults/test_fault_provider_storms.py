"""Provider storms: every task creation refused with 429 for a while, and bursts of 5xx on task
creation, status polls and downloads. Generations retry (rate limits after the provider's
window, with the concurrency halved), resume their checkpointed task after a failed poll, and
are refunded once when they run out of attempts."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


async def test_a_429_storm_backs_off_retries_and_refunds_the_exhausted(fault_env: FaultEnv) -> None:
    env, cluster, kie = fault_env.env, fault_env.cluster, fault_env.kie
    specs = [await fault_env.seed(3000 + i, f"storm{i}") for i in range(14)]
    names = [s.name for s in specs]
    async with fault_env.kubelet() as kubelet:
        running = await env.start(rate_limit_max_attempts=3)
        reconciler = running.runtime.reconciler
        assert reconciler is not None
        kie.storm(3.0)  # six provider windows: the first in line run out of attempts
        lowest = reconciler.limit.current
        for spec in specs:
            await cluster.create_vg(spec)
        while kie.storm_until > asyncio.get_running_loop().time():
            lowest = min(lowest, reconciler.limit.current)
            await asyncio.sleep(0.05)
        await fault_env.settled(names, timeout=90)

    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    assert len(kie.refused) >= 6 and lowest == 1  # each 429 halved the limit, down to 1
    failed = [n for n in names if cluster.phase(n) == "Failed"]
    delivered = [n for n in names if cluster.phase(n) == "Delivered"]
    assert failed and delivered
    for name in failed:
        status = cluster.status(name)
        assert status["error"]["class"] == "RATE_LIMIT" and status["attempts"] == 3
        assert status["refunded"] is True
    # No attempt ever ran without paying attention to the window: every retry waited.
    for name in delivered:
        assert cluster.status(name)["attempts"] >= 1


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
