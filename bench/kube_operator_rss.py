"""The operator's memory in a real cluster with many VideoGenerations present.

Installs the chart as the end-to-end suite does (tests/kube: the shared one-node cluster, images
built from the checkout, the fakes on the host), creates N settled VideoGenerations (Delivered,
as after a busy day), lets the operator see them all, and prints its RSS (from /proc: the pod
runs on this host) before and after. Not run by the suite:

    .venv/bin/python -m bench.kube_operator_rss [N]      # default 1000
"""

from __future__ import annotations

import signal
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


def _operator_pods(api: client.ApiClient, namespace: str) -> list[object]:
    pods = client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=operator"
    )
    return list(pods.items)


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
            values = e2e.values(cluster, images, fakes, namespace)
            values["config"]["extra"] = {}  # the default timings, as in production
            helm.install(
                str(e2e.CHART),
                e2e.RELEASE,
                values,
                namespace=namespace,
            )
            kit.wait(lambda: e2e.deployments_ready(api, namespace), 300, "the release")
            time.sleep(10)  # a measurement, not a test: let start-up settle
            idle = operator_rss_kib(namespace)
            apps = client.AppsV1Api(api)
            # Created while the operator is scaled down, so none is admitted (they are settled).
            apps.patch_namespaced_deployment_scale("vidgen-operator", namespace, {"spec": {"replicas": 0}})
            kit.wait(lambda: not _operator_pods(api, namespace), 120, "the operator scaled down")
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
            apps.patch_namespaced_deployment_scale("vidgen-operator", namespace, {"spec": {"replicas": 1}})
            kit.wait(lambda: e2e.deployments_ready(api, namespace), 300, "the operator back")
            samples = []
            for _ in range(12):  # a minute: the initial listing, admission passes, resyncs
                time.sleep(5)
                samples.append(operator_rss_kib(namespace))
            print(f"{count} settled VideoGenerations created in {created:.0f} s")
            print(
                f"operator RSS: {idle / 1024:.0f} MiB with none; with {count}: "
                f"{samples[-1] / 1024:.0f} MiB after a minute, peak {max(samples) / 1024:.0f} MiB"
            )
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill as on Ctrl-C
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
