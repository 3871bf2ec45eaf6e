"""The operator's memory in a real cluster with many VideoGenerations present.

Installs the chart as the end-to-end suite does (tests/kube: the shared one-node cluster, images
built from the checkout, the fakes on the host), creates N settled VideoGenerations (Delivered,
as after a busy day), lets the operator see them all, and prints its RSS (from /proc: the pod
runs on this host) before and after. Not run by the suite:

    .venv/bin/python -m bench.kube_operator_rss [N]      # default 1000
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kubernetes import client

from tests.fakes.telegram import TOKEN
from tests.kube import e2e, infra, kit
from tests.kube.kit import GROUP, PLURAL, VERSION


def operator_rss_kib(namespace: str) -> int:
    """VmRSS of the `vidgen operator` process of this namespace (the container runs on this host)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"operator" in cmdline and f"--namespace={namespace}".encode() in cmdline:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    raise RuntimeError("no operator process found")


def main(count: int) -> None:
    import helm_python

    cluster = infra.cluster()
    api = kit.api_client(cluster.kubeconfig)
    kit.apply_crd(api)
    images = infra.images_in(cluster)
    fakes = e2e.Fakes()
    namespace = kit.create_namespace(api, cluster, "vgb-rss")
    helm = helm_python.Config(kubeconfig_path=cluster.kubeconfig, namespace=namespace)
    custom = client.CustomObjectsApi(api)
    try:
        with e2e.database() as url:
            e2e.secret(api, namespace, "vidgen-database", {"url": url})
            e2e.secret(api, namespace, "vidgen-telegram", {"token": TOKEN})
            helm.install(
                str(e2e.CHART),
                e2e.RELEASE,
                e2e.values(cluster, images, fakes, namespace),
                namespace=namespace,
            )
            kit.wait(lambda: e2e.deployments_ready(api, namespace), 300, "the release")
            time.sleep(10)  # a measurement, not a test: let start-up settle
            idle = operator_rss_kib(namespace)
            started = time.monotonic()
            stamp = "2026-01-01T00:00:00Z"
            for i in range(count):
                name = f"vg-{100000 + i}-rss"
                custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    kit.vg_body(name, namespace, user_id=100000 + i, prompt="x" * 200),
                )
                custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    name,
                    {
                        "status": {
                            "phase": "Delivered",
                            "attempts": 1,
                            "deliveryAttempts": 1,
                            "jobName": f"{name}-a1",
                            "result": {"video": f"outputs/{name}.mp4", "bytes": 123456, "model": "veo3_fast"},
                            "conditions": [
                                {
                                    "type": "Ready",
                                    "status": "True",
                                    "reason": "Delivered",
                                    "message": "sent",
                                    "lastTransitionTime": stamp,
                                }
                            ],
                        }
                    },
                )
            created = time.monotonic() - started
            time.sleep(60)  # several admission passes and resyncs over all of them
            loaded = operator_rss_kib(namespace)
            peak = max(loaded, operator_rss_kib(namespace))
            print(f"{count} VideoGenerations created in {created:.0f} s")
            print(f"operator RSS: {idle / 1024:.0f} MiB idle, {peak / 1024:.0f} MiB with {count} present")
            custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
            kit.wait(
                lambda: (
                    not custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, limit=1)[
                        "items"
                    ]
                ),
                300,
                "deleted",
            )
            helm.uninstall(e2e.RELEASE)
    finally:
        kit.delete_namespace(api, namespace, timeout=300)
        fakes.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
