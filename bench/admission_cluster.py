"""Part 3 of bench/admission.py: the real kopf operator on a real API server with N queued
VideoGenerations and the cap reached — what an operator costs while nothing can be admitted.

The objects are made as a running operator would have left them (Queued, their queue position
shown), in a namespace of their own; the operator then starts the attempts up to the cap (their
Jobs cannot run: the runner image does not exist, so nothing is ever admitted after that), and
the bench asks for passes and measures them, then leaves it alone for a minute and measures its
CPU. The namespace is deleted afterwards (the finalizers are removed first: no operator runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from common import ROOT, fresh_database, pct, rss_mib

CAP = 10
SHARED_KUBE = ROOT.parent / "shared" / "kube"


def kubeconfig_path(given: str | None) -> str:
    if given:
        return given
    up = SHARED_KUBE / "up"
    if not up.exists():
        raise SystemExit(f"no cluster: pass --kubeconfig, or put ../shared/kube beside the checkout ({up})")
    return subprocess.run([str(up)], check=True, capture_output=True, text=True).stdout.strip()


def prepare(api: Any, namespace: str, n: int) -> None:
    """The CRD, the namespace, and n Queued VideoGenerations (create, then their status)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    from vidgen.core.admission import shown_position
    from vidgen.core.status import iso
    from vidgen.operator.k8s_launcher import FINALIZER

    crd = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.create_custom_resource_definition(crd)
    except ApiException as exc:
        if exc.status != 409:
            raise
        current = ext.read_custom_resource_definition(crd["metadata"]["name"])
        crd["metadata"]["resourceVersion"] = current.metadata.resource_version
        ext.replace_custom_resource_definition(crd["metadata"]["name"], crd)
    for _ in range(100):
        cond = ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in cond):
            break
        time.sleep(0.1)
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    custom = client.CustomObjectsApi(api)
    now = time.time()

    def make(i: int) -> None:
        name = f"vg-{100000 + i}-b{i}"
        at = iso(now - 3600 + i * 0.01)
        body = {
            "apiVersion": "vidgen.io/v1alpha1",
            "kind": "VideoGeneration",
            # as the bot creates them: with the operator's finalizer (kopf would otherwise add it
            # to every object at start-up, 10,000 patches before anything else)
            "metadata": {"name": name, "finalizers": [FINALIZER]},
            "spec": {
                "userId": 100000 + i,
                "chatId": 100000 + i,
                "photo": f"inputs/{name}.jpg",
                "prompt": "the cat turns its head and smiles",
                "model": "sora-2-image-to-video",
                "aspectRatio": "portrait",
                "durationSeconds": 10,
                "language": "en",
                "statusMessageId": 500 + i,
                "requestedAt": at,
            },
        }
        custom.create_namespaced_custom_object("vidgen.io", "v1alpha1", namespace, "videogenerations", body)
        status = {"phase": "Queued", "attempts": 0, "queuedAt": at}
        if i >= CAP:  # the first CAP will start; the others already show their position
            status["queuePosition"] = shown_position(i - CAP + 1)
        custom.patch_namespaced_custom_object_status(
            "vidgen.io", "v1alpha1", namespace, "videogenerations", name, {"status": status}
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(n)))


def cleanup(api: Any, namespace: str) -> None:
    from kubernetes import client

    custom = client.CustomObjectsApi(api)
    items = custom.list_namespaced_custom_object("vidgen.io", "v1alpha1", namespace, "videogenerations")[
        "items"
    ]

    def unfinalize(obj: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            custom.patch_namespaced_custom_object(
                "vidgen.io",
                "v1alpha1",
                namespace,
                "videogenerations",
                obj["metadata"]["name"],
                {"metadata": {"finalizers": None}},
            )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(unfinalize, items))
    core = client.CoreV1Api(api)
    with contextlib.suppress(Exception):
        core.patch_namespaced_config_map("vidgen-admission", namespace, {"metadata": {"finalizers": None}})
    core.delete_namespace(namespace)


async def measure(kubeconfig: str, namespace: str, db_url: str, n: int) -> dict[str, Any]:
    from tests.fakes.telegram import TOKEN, FakeTelegram
    from vidgen.core.settings import Settings
    from vidgen.operator.handlers import OperatorRuntime

    with tempfile.TemporaryDirectory(prefix="vidgen-bench-") as tmp:
        async with FakeTelegram() as tg:
            settings = Settings(  # type: ignore[call-arg,unused-ignore]
                _env_file=None,
                database_url=db_url,
                storage_url=f"file://{Path(tmp)}",
                telegram_token=TOKEN,
                telegram_api_url=tg.url,
                kubeconfig=kubeconfig,
                namespace=namespace,
                max_concurrency=CAP,
                runner_image="vidgen/runner:absent-for-the-bench",
                metrics_port=0,
            )
            runtime = OperatorRuntime(
                settings, standalone=True, metrics_port=0, liveness=False, post_events=False
            )
            rss_before = rss_mib()
            started = time.monotonic()
            task = asyncio.create_task(runtime.run())
            try:
                while runtime.reconciler is None or runtime.reconciler.admission.passes == 0:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.1)
                admission = runtime.reconciler.admission
                while runtime.reconciler.metrics.admissions._value.get() < CAP:  # noqa: ASYNC110  (a bench: polling is fine)
                    await asyncio.sleep(0.2)
                first_admissions = time.monotonic() - started
                # kopf's start-up: a watch event (and a finalizer) for every object; let it settle
                quiet_since, last = time.monotonic(), admission.passes
                while time.monotonic() - quiet_since < 10:
                    await asyncio.sleep(1)
                    if admission.passes - last > 1:
                        quiet_since, last = time.monotonic(), admission.passes
                settle = time.monotonic() - started
                # passes while nothing can be admitted: asked for 30 times, one at a time
                before = len(admission.pass_seconds)
                for _ in range(30):
                    count = admission.passes
                    admission.request()
                    while admission.passes == count:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                seconds = list(admission.pass_seconds)[before:]
                writes = list(admission.pass_writes)[before:]
                # a quiet minute: the operator's CPU while nothing can be admitted
                cpu0, wall0 = time.process_time(), time.monotonic()
                await asyncio.sleep(60)
                cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
                return {
                    "n": n,
                    "first_admissions_s": first_admissions,
                    "settled_s": settle,
                    "pass_p50_ms": statistics.median(seconds) * 1000,
                    "pass_p99_ms": pct(seconds, 99) * 1000,
                    "writes_max": max(writes),
                    "cpu_share": cpu,
                    "rss_mib": rss_mib(),
                    "rss_before_mib": rss_before,
                    "telegram_edits": len(tg.calls_to("editMessageText")),
                }
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 30)


def run_cluster(n: int, kubeconfig: str | None) -> None:
    import kubernetes

    path = kubeconfig_path(kubeconfig)
    api = kubernetes.config.new_client_from_config(config_file=path)
    namespace = f"vidgen-bench-{uuid.uuid4().hex[:6]}"
    print(f"\n3. the kopf operator on a real API server ({path}), namespace {namespace}, cap {CAP}")
    t0 = time.monotonic()
    prepare(api, namespace, n)
    print(f"  {n} Queued VideoGenerations made in {time.monotonic() - t0:.0f} s")
    try:
        with fresh_database() as url:
            r = asyncio.run(measure(path, namespace, url, n))
    finally:
        cleanup(api, namespace)
    print(
        f"  the cap's {CAP} attempts started {r['first_admissions_s']:.1f} s after the operator did; quiet after {r['settled_s']:.0f} s"
    )
    print(
        f"  admission pass, nothing admissible: p50 {r['pass_p50_ms']:.0f} ms, p99 {r['pass_p99_ms']:.0f} ms (30 passes)"
    )
    print(
        f"  status writes per pass: at most {r['writes_max']} (Telegram edits in all: {r['telegram_edits']})"
    )
    print(f"  operator CPU over a quiet minute: {r['cpu_share']:.1%} of a core; RSS {r['rss_mib']:.0f} MiB")
