"""Helpers for the real-cluster tests: the kubernetes client, the CRD, namespaces of their own,
VideoGenerations, kubectl, and bounded polling (never a sleep to prove an absence)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

from tests.kube.infra import SHARED_KUBE, Cluster

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "videogeneration.yaml"
GROUP, VERSION, PLURAL = "vidgen.io", "v1alpha1", "videogenerations"
FIELD_MANAGER = "vidgen-tests"


def api_client(kubeconfig: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)


def wait(
    predicate: Callable[[], Any], timeout: float = 120.0, what: str = "condition", interval: float = 0.25
) -> Any:
    """Poll `predicate` until it returns something truthy (bounded); that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def apply(api: client.ApiClient, body: dict[str, Any]) -> Any:
    """Server-side apply (as `kubectl apply --server-side --force-conflicts`)."""
    resource = dynamic.DynamicClient(api).resources.get(api_version=body["apiVersion"], kind=body["kind"])
    namespace = body["metadata"].get("namespace")
    return resource.server_side_apply(
        body=body,
        name=body["metadata"]["name"],
        namespace=namespace,
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )


def apply_crd(api: client.ApiClient) -> dict[str, Any]:
    """The repository's CRD, applied and Established (it is cluster-wide: shared by every
    namespace and test run on the cluster)."""
    body = yaml.safe_load(CRD_FILE.read_text())
    apply(api, body)
    ext = client.ApiextensionsV1Api(api)

    def established() -> bool:
        crd = ext.read_custom_resource_definition(body["metadata"]["name"])
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    wait(established, 60, "the CRD to be Established")
    # Discovery and the CRD's new schema reach every API server handler a moment later.
    custom = client.CustomObjectsApi(api)
    wait(lambda: _listable(custom), 60, "videogenerations to be served")
    return body


def _listable(custom: client.CustomObjectsApi) -> bool:
    try:
        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1)
    except ApiException:
        return False
    return True


def create_namespace(api: client.ApiClient, cluster: Cluster, prefix: str) -> str:
    """A namespace of our own, ready for pods (its ServiceAccount and CA ConfigMaps exist)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"vidgen.io/test": prefix}))
    )

    def ready() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
            maps = {m.metadata.name for m in core.list_namespaced_config_map(name).items}
        except ApiException:
            return False
        need = {"kube-root-ca.crt"} | ({"openshift-service-ca.crt"} if cluster.shared else set())
        return need <= maps

    wait(ready, 120, f"namespace {name} to be ready for pods")
    return name


def delete_namespace(api: client.ApiClient, name: str, timeout: float = 180.0) -> None:
    """Delete the namespace and wait until it is gone: nothing in it may hang in Terminating."""
    core = client.CoreV1Api(api)
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait(gone, timeout, f"namespace {name} to be deleted")


def vg_body(name: str, namespace: str, user_id: int = 7, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VideoGeneration",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"userId": user_id, "chatId": user_id, "photo": f"inputs/{name}.jpg", **spec},
    }


def status_reason(exc: ApiException) -> dict[str, Any]:
    try:
        return json.loads(exc.body)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return {"message": str(exc.body)}


def kubectl(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = str(SHARED_KUBE / "kubectl") if (SHARED_KUBE / "kubectl").exists() else shutil.which("kubectl")
    assert binary, "kubectl not found"
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig}
    proc = subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
    return proc
