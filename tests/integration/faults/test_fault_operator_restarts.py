"""The operator is killed (its task cancelled mid-step) and started again at random, seeded
moments while 30 generations go through it — some refused by the provider's content policy, some
hitting a 5xx on task creation. Nothing is lost, doubled or paid twice."""

from __future__ import annotations

import asyncio
import random

import pytest

from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(150)]

SEED = 20261109


async def test_operator_cancelled_and_restarted_at_random_points(fault_env: FaultEnv) -> None:
    env, cluster, kie = fault_env.env, fault_env.cluster, fault_env.kie
    rng = random.Random(SEED)
    specs = [await fault_env.seed(1000 + i, f"restart{i}") for i in range(30)]
    names = [s.name for s in specs]
    kie.fail_next_tasks(3, fail_msg="content policy violation: unsafe image", fail_code="501")
    kie.fail("createTask", times=2, code=500, http_status=500)

    restarts = 0
    async with fault_env.kubelet() as kubelet:
        handle = await env.start()
        batches = [specs[0:10], specs[10:20], specs[20:30]]
        for batch in batches:  # requests keep coming while the operator dies and comes back
            for spec in batch:
                await cluster.create_vg(spec)
            for _ in range(2):
                await asyncio.sleep(rng.uniform(0.1, 1.2))
                await handle.stop()
                restarts += 1
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                handle = await env.start()
        await fault_env.settled(names, timeout=90)

    assert restarts == 6
    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    phases = [cluster.phase(n) for n in names]
    assert phases.count("Failed") >= 3  # the refused ones (and only failures refund)
    assert phases.count("Delivered") >= 20
    # One Job per attempt, never two for the same attempt.
    jobs = {a.job for a in kubelet.attempts}
    assert len(jobs) == len(kubelet.attempts)
    for name in names:
        assert cluster.status(name)["attempts"] == len(kubelet.by_generation()[name])
