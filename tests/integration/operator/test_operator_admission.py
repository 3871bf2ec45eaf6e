"""Admission under the cap, FIFO, and the adaptive limit on provider rate limits."""

from __future__ import annotations

import asyncio

import pytest

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.result import RunnerResult
from vidgen.core.texts import t

from .conftest import Kubelet, OperatorEnv, schema_errors, until

pytestmark = pytest.mark.postgres

RATE_LIMITED = RunnerResult.failed(Failure(ErrorClass.RATE_LIMIT, "provider_429", "too many requests"))


async def test_ten_generations_under_a_cap_of_three_run_fifo(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    specs = []
    for i in range(10):  # queued before the operator starts: it must sort them, not race them
        specs.append(await env.request(200 + i, f"fifo{i}"))
        await asyncio.sleep(0.005)
    names = [s.name for s in specs]
    async with Kubelet(cluster, run_time=0.3) as kubelet:
        await env.start()
        await until(
            lambda: all(cluster.phase(n) == "Delivered" for n in names), timeout=30, what="all delivered"
        )

    assert kubelet.max_active == 3
    # the admission loop's anchor carries no finalizer: nothing can hang on it once no operator runs
    anchor = cluster.kmock.objects["v1/configmaps", "vidgen", env.settings.admission_anchor]
    assert not anchor.raw.get("metadata", {}).get("finalizers")
    assert [j.rsplit("-a", 1)[0] for j in kubelet.started_order] == names  # FIFO starts
    assert [j.rsplit("-a", 1)[0] for j in kubelet.finished_order] == names
    assert len(cluster.job_posts()) == 10  # one Job each, no duplicates
    assert all(cluster.status(n)["attempts"] == 1 for n in names)
    assert all(not schema_errors(cluster.vg(n)) for n in names)
    # The last in line saw its queue position go down while it waited.
    last = specs[-1]

    def shown() -> list[str]:
        calls = env.tg.calls_to("editMessageText")
        return [c.params["text"] for c in calls if c.params["message_id"] == str(last.status_message_id)]

    await until(lambda: shown()[-1] == t("progress.delivered", "en"), what="the last progress edit")
    by_text = {t("progress.queued", "en", position=p): p for p in range(1, 11)}
    positions = [by_text[text] for text in shown() if text in by_text]
    assert len(positions) > 1 and positions == sorted(set(positions), reverse=True)


async def test_persistent_rate_limits_slow_creations_not_concurrency(operator_env: OperatorEnv) -> None:
    """Two attempts end RATE_LIMIT while two others run: the creation budget is halved, the
    cap is not — once their notBefore passes, all four run side by side."""
    env, cluster = operator_env, operator_env.cluster
    running = await env.start(max_concurrency=4)
    reconciler = running.runtime.reconciler
    assert reconciler is not None
    first = [await env.request(300 + i, f"rl{i}") for i in range(4)]
    throttled = [s.name for s in first[:2]]
    async with Kubelet(cluster, run_time=0.1) as kubelet:
        kubelet.hold = {s.name for s in first}  # nothing ends unless the test ends it
        await until(lambda: kubelet.max_active == 4, what="four first attempts")
        for name in throttled:  # two end with a rate limit that outlasted their retries
            await cluster.finish_job(cluster.jobs()[f"{name}-a1"], RATE_LIMITED)
        await until(
            lambda: all(
                cluster.status(n).get("attempts") == 2 and cluster.phase(n) == "Running" for n in throttled
            ),
            what="retried",
        )
        for name in throttled:
            assert cluster.status(name)["error"]["class"] == "RATE_LIMIT"
        budget = reconciler.admission.budgets["default"]
        assert budget.last_refusal is not None and budget.reduced in (5, 10)  # 20 → 10 (→ 5)
        active = [j for j in cluster.jobs().values() if not (j.get("status") or {}).get("conditions")]
        assert len(active) == 4  # the cap was not cut: two held and two retries side by side
        kubelet.hold = set()
        await until(
            lambda: all(cluster.phase(s.name) == "Delivered" for s in first), timeout=20, what="all delivered"
        )
        assert [cluster.status(n)["attempts"] for n in throttled] == [2, 2]
