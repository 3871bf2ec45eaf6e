"""Two replicas peer through a KopfPeering object: only the one with the highest priority acts,
and when it goes away the other takes over."""

from __future__ import annotations

import pytest

from .conftest import NS, Kubelet, OperatorEnv, until

pytestmark = pytest.mark.postgres

PEERINGS = "kopf.dev/v1/kopfpeerings"


async def test_only_the_leader_acts_and_the_follower_takes_over(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    kmock = cluster.kmock
    kmock.resources[PEERINGS] = kmock.ResourceInfo(
        kind="KopfPeering",
        singular="kopfpeering",
        namespaced=True,
        verbs={"get", "list", "watch", "patch"},
        subresources={"status"},
    )
    peering = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": env.settings.peering_name, "namespace": NS, "uid": "p1", "resourceVersion": "1"},
        "status": {},
    }
    resp = await kmock.post(f"/apis/kopf.dev/v1/namespaces/{NS}/kopfpeerings", json=peering)
    assert resp.status == 200

    leader = await env.start_threaded(standalone=False, peering_priority=200)
    follower = await env.start_threaded(standalone=False, peering_priority=100)
    await until(
        lambda: (
            len(cluster.kmock.objects[PEERINGS, NS, env.settings.peering_name].raw.get("status") or {}) == 2
        ),
        what="both peers",
    )

    async with Kubelet(cluster):
        first = [await env.request(800 + i, f"peer{i}") for i in range(3)]
        await until(
            lambda: all(cluster.phase(s.name) == "Delivered" for s in first), timeout=20, what="delivered"
        )
        assert leader.runtime.reconciler is not None and follower.runtime.reconciler is not None
        assert leader.runtime.reconciler.metrics.admissions._value.get() == 3
        assert follower.runtime.reconciler.metrics.admissions._value.get() == 0

        await leader.stop()  # a graceful stop: it leaves the peering object, the follower resumes
        second = await env.request(810, "after")
        await until(
            lambda: cluster.phase(second.name) == "Delivered", timeout=20, what="delivered by the follower"
        )
        assert follower.runtime.reconciler.metrics.admissions._value.get() == 1
    assert sorted(cluster.job_posts()) == sorted(f"{s.name}-a1" for s in [*first, second])  # nothing twice
    assert len(env.tg.calls_to("sendVideo")) == 4
