"""/metrics is scraped over HTTP and shows the agreed series with the right values; kopf's
liveness endpoint answers."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.result import RunnerResult

from .conftest import Kubelet, OperatorEnv, until

pytestmark = pytest.mark.postgres

VIOLATED = RunnerResult.failed(Failure(ErrorClass.USER_VIOLATION, "provider_422", "real person"))
RATE_LIMITED = RunnerResult.failed(Failure(ErrorClass.RATE_LIMIT, "provider_429", "slow down"))


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_show_what_happened(operator_env: OperatorEnv) -> None:
    env, cluster, tg = operator_env, operator_env.cluster, operator_env.tg
    running = await env.start(max_concurrency=5)
    port = running.runtime.metrics_port
    tg.fail("sendVideo", times=1, code=500)  # the first delivery needs a second try
    script = {"vg-701-ok": [RATE_LIMITED], "vg-702-bad": [VIOLATED]}
    async with Kubelet(cluster, script=script):
        ok = await env.request(701, "ok")
        bad = await env.request(702, "bad")
        await until(lambda: cluster.phase(ok.name) == "Delivered", what="delivered")
        await until(
            lambda: (cluster.condition(bad.name, "Notified") or {}).get("status") == "True", what="notified"
        )

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    async def settled_gauges() -> bool:
        nonlocal samples
        samples = await scrape(port)
        return (
            value("vidgen_generations", phase="Delivered") == 1
            and value("vidgen_generations", phase="Failed") == 1
        )

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    await until(settled_gauges, what="the phase gauges")
    for phase in ("Pending", "Queued", "Running", "Generated", "Delivering"):
        assert value("vidgen_generations", phase=phase) == 0
    assert value("vidgen_generation_transitions_total", phase="Queued") == 3  # 2 enqueued + 1 requeued
    assert value("vidgen_generation_transitions_total", phase="Running") == 3  # 3 attempts
    assert value("vidgen_generation_transitions_total", phase="Delivered") == 1
    assert value("vidgen_generation_transitions_total", phase="Failed") == 1
    assert value("vidgen_queue_depth") == 0 and value("vidgen_running_jobs") == 0
    assert value("vidgen_concurrency_max") == 5
    assert value("vidgen_concurrency_limit") == 5  # the cap: a rate limit slows creations, not concurrency
    assert value("vidgen_provider_account_in_rotation", account="default") == 1
    assert value("vidgen_provider_creation_budget", account="default") in (10, 20)  # halved once, or back
    assert value("vidgen_admission_passes_total") >= 1
    assert value("vidgen_admissions_total") == 3
    assert value("vidgen_last_admission_timestamp_seconds") > 1.7e9
    assert value("vidgen_generation_duration_seconds_count") == 2
    assert value("vidgen_generation_duration_seconds_bucket", le="+Inf") == 2
    assert value("vidgen_generation_errors_total", error_class="USER_VIOLATION") == 1
    assert value("vidgen_generation_errors_total", error_class="RATE_LIMIT") == 1
    assert value("vidgen_generation_errors_total", error_class="TEMPORARY") == 0
    assert value("vidgen_retries_total", error_class="RATE_LIMIT") == 1
    assert value("vidgen_retries_total", error_class="USER_VIOLATION") == 0
    assert value("vidgen_refunds_total", error_class="USER_VIOLATION") == 1
    assert value("vidgen_refunds_total", error_class="RATE_LIMIT") == 0
    assert value("vidgen_deliveries_total") == 1
    assert value("vidgen_delivery_failures_total") == 1
    assert value("vidgen_provider_rate_limited_total") == 1

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{env.settings.health_port}/healthz") as resp,
    ):
        assert resp.status == 200
        probe = await resp.json()
    assert probe["admission"]["running_cap"] == 5
    assert probe["admission"]["accounts_out_of_rotation"] == []
