"""Runner attempts killed at random, seeded moments (the pod dies: no termination message). The
next attempt resumes the provider task the killed one had checkpointed, so nobody pays twice."""

from __future__ import annotations

import random

import pytest

from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

SEED = 424242


async def test_killed_runner_attempts_resume_their_task(fault_env: FaultEnv) -> None:
    env, cluster, kie = fault_env.env, fault_env.cluster, fault_env.kie
    kie.latency_range = (0.6, 0.9)  # long enough for a kill to land while the task generates

    def kill(name: str, attempt: int) -> float | None:
        """Half of the first attempts and a quarter of the second die after 0.05–0.8 s (the same
        ones on every run: seeded per attempt, whatever order they start in)."""
        rng = random.Random(f"{SEED}:{name}:{attempt}")
        chance = {1: 0.5, 2: 0.25}.get(attempt, 0.0)
        return rng.uniform(0.05, 0.8) if rng.random() < chance else None

    specs = [await fault_env.seed(2000 + i, f"kill{i}") for i in range(16)]
    names = [s.name for s in specs]
    async with fault_env.kubelet(kill=kill) as kubelet:
        await env.start()
        for spec in specs:
            await cluster.create_vg(spec)
        await fault_env.settled(names, timeout=90)

    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    killed = [a for a in kubelet.attempts if a.killed]
    assert len(killed) >= 5
    # Some attempts were killed after their task was created: the next attempt resumed it.
    resumed = [a for a in kubelet.attempts if not a.needed_task]
    assert resumed, "no attempt resumed a checkpointed task"
    for name in names:
        calls = len(kie.creations_for(name))
        needing = sum(1 for a in kubelet.by_generation()[name] if a.needed_task)
        assert calls <= needing
        if cluster.phase(name) == "Delivered":
            assert calls >= 1
    # A killed attempt is a TEMPORARY failure: up to max_attempts (3), then a refund.
    for name in names:
        attempts = kubelet.by_generation()[name]
        assert len(attempts) <= env.settings.max_attempts
        if all(a.killed for a in attempts):
            assert cluster.phase(name) == "Failed"
            assert cluster.status(name)["error"]["code"] == "no_result"
