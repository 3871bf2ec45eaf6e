"""The VideoGeneration CRD on a real API server: what only the server decides — validation of
the examples, pruning and strict field validation, the status subresource, the CEL rule that
makes the spec immutable, resourceVersion conflicts, finalizers — proven, not modelled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tests.kube import infra, kit
from tests.kube.kit import GROUP, PLURAL, VERSION

EXAMPLES = sorted((kit.ROOT / "crds" / "examples").glob("*.yaml"))
INVALID = sorted((kit.ROOT / "crds" / "examples" / "invalid").glob("*.yaml"))


@pytest.fixture(scope="module")
def ns(kube: client.ApiClient, cluster: infra.Cluster, crd: dict[str, Any]) -> Iterator[str]:
    name = kit.create_namespace(kube, cluster, "vgt-crd")
    yield name
    custom = client.CustomObjectsApi(kube)
    for item in custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)["items"]:
        if item["metadata"].get("finalizers"):
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, name, PLURAL, item["metadata"]["name"], {"metadata": {"finalizers": None}}
            )
    kit.delete_namespace(kube, name)


def create(kube: client.ApiClient, ns: str, body: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    body = {**body, "metadata": {**body["metadata"], "namespace": ns}}
    return client.CustomObjectsApi(kube).create_namespaced_custom_object(  # type: ignore[no-any-return]
        GROUP, VERSION, ns, PLURAL, body, field_validation="Strict" if strict else None
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_accepted(kube: client.ApiClient, ns: str, path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    created = create(kube, ns, body)
    assert created["spec"]["userId"] == body["spec"]["userId"]
    # With the status subresource, a create drops the status: only the operator writes it.
    assert "status" not in created


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_are_refused(kube: client.ApiClient, ns: str, path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    with pytest.raises(ApiException) as info:
        create(kube, ns, body)
    assert info.value.status in (400, 422), info.value.body
    message = kit.status_reason(info.value)["message"]
    expected = {
        "missing-user-id": "spec.userId: Required value",
        "overlong-prompt": "spec.prompt: Too long",
        "unknown-model": 'spec.model: Unsupported value: "sora-3"',
        "unknown-field": 'unknown field "spec.promt"',
    }[path.stem]
    assert expected in message, message


def test_unknown_fields_are_pruned_without_strict_validation(kube: client.ApiClient, ns: str) -> None:
    body = kit.vg_body("vg-8-pruned", ns, user_id=8, promt="a typo")
    created = create(kube, ns, body, strict=False)
    assert "promt" not in created["spec"] and created["spec"]["userId"] == 8


def test_spec_is_immutable(kube: client.ApiClient, ns: str) -> None:
    custom = client.CustomObjectsApi(kube)
    create(kube, ns, kit.vg_body("vg-9-fixed", ns, user_id=9))
    with pytest.raises(ApiException) as info:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "vg-9-fixed", {"spec": {"userId": 10}}
        )
    assert info.value.status == 422
    assert "spec is immutable" in kit.status_reason(info.value)["message"]
    # Metadata (labels, finalizers) and the status stay writable.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "vg-9-fixed", {"metadata": {"labels": {"checked": "yes"}}}
    )
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "vg-9-fixed", {"status": {"phase": "Queued"}}
    )
    assert patched["status"]["phase"] == "Queued" and patched["spec"]["userId"] == 9


def test_status_is_validated_and_written_only_through_the_subresource(
    kube: client.ApiClient, ns: str
) -> None:
    custom = client.CustomObjectsApi(kube)
    create(kube, ns, kit.vg_body("vg-11-status", ns, user_id=11))
    with pytest.raises(ApiException) as info:
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, ns, PLURAL, "vg-11-status", {"status": {"phase": "Cancelled"}}
        )
    assert info.value.status == 422 and "status.phase" in kit.status_reason(info.value)["message"]
    # A status in a main-resource patch is ignored.
    after = custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "vg-11-status", {"status": {"phase": "Delivered"}}
    )
    assert "status" not in after


def test_conditions_merge_by_type(kube: client.ApiClient, ns: str) -> None:
    """x-kubernetes-list-type: map — two writers' conditions of different types both survive a
    server-side apply, and one type appears once."""
    custom = client.CustomObjectsApi(kube)
    create(kube, ns, kit.vg_body("vg-12-cond", ns, user_id=12))
    base = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VideoGeneration", "metadata": {"name": "vg-12-cond"}}
    stamp = "2026-01-01T00:00:00Z"
    for manager, type_ in (("one", "Ready"), ("two", "Refunded")):
        dyn = dynamic.DynamicClient(kube)
        dyn.request(
            "patch",
            f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/vg-12-cond/status",
            body={
                **base,
                "status": {"conditions": [{"type": type_, "status": "True", "lastTransitionTime": stamp}]},
            },
            content_type="application/apply-patch+yaml",
            field_manager=manager,
            force_conflicts=True,
        )
    got = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "vg-12-cond")
    assert sorted(c["type"] for c in got["status"]["conditions"]) == ["Ready", "Refunded"]


def test_stale_resource_version_conflicts(kube: client.ApiClient, ns: str) -> None:
    custom = client.CustomObjectsApi(kube)
    created = create(kube, ns, kit.vg_body("vg-13-rv", ns, user_id=13))
    stale = created["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "vg-13-rv", {"status": {"phase": "Queued"}}
    )
    with pytest.raises(ApiException) as info:
        custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            ns,
            PLURAL,
            "vg-13-rv",
            {"metadata": {"resourceVersion": stale}, "status": {"phase": "Running"}},
        )
    assert info.value.status == 409


def test_a_finalizer_holds_deletion_until_it_is_removed(kube: client.ApiClient, ns: str) -> None:
    custom = client.CustomObjectsApi(kube)
    body = kit.vg_body("vg-14-fin", ns, user_id=14)
    body["metadata"]["finalizers"] = ["vidgen.io/finalizer"]
    create(kube, ns, body)
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "vg-14-fin")
    held = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "vg-14-fin")
    assert held["metadata"]["deletionTimestamp"]  # Terminating, held by the finalizer
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "vg-14-fin", {"metadata": {"finalizers": None}}
    )

    def gone() -> bool:
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "vg-14-fin")
        except ApiException as exc:
            return exc.status == 404
        return False

    kit.wait(gone, 60, "the object to go once its finalizer is removed")


def test_kubectl_columns(cluster: infra.Cluster, kube: client.ApiClient, ns: str) -> None:
    create(kube, ns, kit.vg_body("vg-15-cols", ns, user_id=15))
    client.CustomObjectsApi(kube).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        ns,
        PLURAL,
        "vg-15-cols",
        {
            "status": {
                "phase": "Failed",
                "error": {"class": "BILLING", "code": "provider_402", "message": "no credits"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "provider_402",
                        "message": "no credits",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        },
    )
    plain = kit.kubectl(cluster, "get", "vg", "vg-15-cols", "-n", ns).stdout.splitlines()
    assert plain[0].split() == ["NAME", "PHASE", "READY", "MESSAGE", "AGE"]
    assert plain[1].split()[:5] == ["vg-15-cols", "Failed", "False", "no", "credits"]
    wide = kit.kubectl(cluster, "get", "vg", "vg-15-cols", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME",
        "PHASE",
        "READY",
        "MESSAGE",
        "AGE",
        "USER",
        "ATTEMPTS",
        "MODEL",
        "ERROR",
        "JOB",
    ]
    assert "15" in wide[1].split() and "BILLING" in wide[1].split()
    explained = kit.kubectl(cluster, "explain", "vg.spec").stdout
    assert "immutable" in explained and "Telegram id of the user" in explained
