"""End to end on a real cluster: both images built from this checkout, the chart installed with
helm-python-sdk exactly as the README's "Install on Kubernetes" says, and a Telegram user (the
fake Bot API) driving it: a video delivered from a Job that ran the runner image on the kubelet
against the fake KIE.AI; a failure refunded and told; a deletion while running refunded; the
operator restarted mid-run; the operator's Role really refusing what it does not grant; and
`helm uninstall` plus the namespace's deletion leaving nothing stuck."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fakes.telegram import TOKEN
from tests.kube import e2e, infra, kit
from tests.kube.kit import GROUP, PLURAL, VERSION

#: On a clean machine the first test's setup makes the base image and builds both images (about
#: six minutes on 2 cores); re-runs reuse them.
pytestmark = pytest.mark.timeout(1800)


@dataclass
class Release:
    cluster: infra.Cluster
    api: client.ApiClient
    namespace: str
    fakes: e2e.Fakes
    database_url: str
    images: infra.Images
    helm: Any

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def vgs(self, user_id: int | None = None) -> list[dict[str, Any]]:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)["items"]
        return [v for v in items if user_id is None or v["spec"]["userId"] == user_id]

    def vg_of(self, user_id: int) -> dict[str, Any] | None:
        found = self.vgs(user_id)
        return found[0] if found else None

    def phase(self, user_id: int) -> str | None:
        vg = self.vg_of(user_id)
        return (vg or {}).get("status", {}).get("phase")

    def wait_phase(self, user_id: int, *phases: str, timeout: float = 240) -> dict[str, Any]:
        try:
            kit.wait(
                lambda: self.phase(user_id) in phases, timeout, f"user {user_id}'s generation to be {phases}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{e2e.describe_pods(self.cluster, self.namespace)}") from None
        vg = self.vg_of(user_id)
        assert vg is not None
        return vg

    def wait(self, predicate: Any, what: str, timeout: float = 180) -> Any:
        """kit.wait, with the pods, Jobs, generations and the operator's last log lines when it
        times out."""
        try:
            return kit.wait(predicate, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{e2e.describe_pods(self.cluster, self.namespace)}") from None

    def balance(self, user_id: int) -> int:
        return int(e2e.sql(self.database_url, "SELECT balance FROM users WHERE id = %s", user_id)[0][0])

    def ledger(self, user_id: int) -> list[str]:
        rows = e2e.sql(
            self.database_url, "SELECT kind FROM credit_entries WHERE user_id = %s ORDER BY id", user_id
        )
        return [r[0] for r in rows]


@pytest.fixture(scope="module")
def release(cluster: infra.Cluster, kube: client.ApiClient, crd: dict[str, Any]) -> Iterator[Release]:
    import helm_python

    started = time.monotonic()
    images = infra.images_in(cluster)
    infra.log(f"images ready in {time.monotonic() - started:.0f} s: {images.bot}, {images.runner}")
    fakes = e2e.Fakes()
    namespace = kit.create_namespace(kube, cluster, "vgt-e2e")
    helm = helm_python.Config(kubeconfig_path=cluster.kubeconfig, namespace=namespace)
    installed = False
    try:
        with e2e.database() as url:
            # The README's steps: the Secrets, then `helm install`.
            e2e.secret(kube, namespace, "vidgen-database", {"url": url})
            e2e.secret(kube, namespace, "vidgen-telegram", {"token": TOKEN})
            helm.install(
                str(e2e.CHART),
                e2e.RELEASE,
                e2e.values(cluster, images, fakes, namespace),
                namespace=namespace,
            )
            installed = True
            kit.wait(
                lambda: e2e.deployments_ready(kube, namespace), 300, "the operator and the bot to be Ready"
            )
            infra.log(f"release ready {time.monotonic() - started:.0f} s after the start")
            yield Release(cluster, kube, namespace, fakes, url, images, helm)
    finally:
        if installed:
            # Whatever a failed test left: the README's uninstall order (generations first).
            try:
                client.CustomObjectsApi(kube).delete_collection_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL
                )
                kit.wait(
                    lambda: (
                        not client.CustomObjectsApi(kube).list_namespaced_custom_object(
                            GROUP, VERSION, namespace, PLURAL
                        )["items"]
                    ),
                    120,
                    "generations deleted",
                )
                helm.uninstall(e2e.RELEASE, ignore_not_found=True)
            except Exception as exc:
                infra.log(f"cleanup: {exc}")
        kit.delete_namespace(kube, namespace, timeout=300)
        fakes.close()


def test_a_video_is_delivered(release: Release) -> None:
    user = e2e.User(release.fakes, 5101)
    user.request_video()
    vg = release.wait_phase(5101, "Delivered", "Failed")
    name = vg["metadata"]["name"]
    assert vg["status"]["phase"] == "Delivered", vg["status"]
    (video,) = user.calls(method="sendVideo")
    assert video.params.get("video") or video.files.get("video")

    # The Job's pod ran the runner image on the kubelet (its termination message was read).
    job = client.BatchV1Api(release.api).read_namespaced_job(vg["status"]["jobName"], release.namespace)
    assert job.spec.template.spec.containers[0].image == release.images.runner
    assert job.spec.template.spec.host_network is True
    assert (job.status.succeeded or 0) == 1
    assert release.fakes.kie.create_calls >= 1

    # Settled: no finalizer left; Ready in the columns; Events in the order they happened.
    release.wait(
        lambda: not (release.vg_of(5101) or {}).get("metadata", {}).get("finalizers"),
        "the finalizer released",
        60,
    )
    row = kit.kubectl(
        release.cluster, "get", "vg", name, "-n", release.namespace, "--no-headers"
    ).stdout.split()
    assert row[1:3] == ["Delivered", "True"]
    described = kit.kubectl(release.cluster, "describe", "vg", name, "-n", release.namespace).stdout
    events = described.split("Events:", 1)[1]
    order = [r for r in ("Queued", "Started", "Generated", "Delivering", "Delivered") if r in events]
    assert order == ["Queued", "Started", "Generated", "Delivering", "Delivered"], events
    positions = [events.index(f" {r} ") for r in order]
    assert positions == sorted(positions), events

    # The books: 2 free credits, one spent.
    assert release.balance(5101) == 1 and release.ledger(5101) == ["signup_bonus", "debit"]

    # Every line the operator and the bot wrote is JSON (kopf's and aiogram's included).
    for deploy in ("vidgen-operator", "vidgen-bot"):
        logs = kit.kubectl(
            release.cluster, "logs", f"deploy/{deploy}", "-n", release.namespace, "--all-containers"
        ).stdout
        lines = [line for line in logs.splitlines() if line.strip()]
        assert lines, deploy
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                raise AssertionError(f"{deploy}: not JSON: {line!r}") from None


def test_a_failure_is_refunded_and_told(release: Release) -> None:
    release.fakes.loop.call_soon_threadsafe(
        lambda: release.fakes.kie.fail_next_tasks(1, fail_msg="content policy violation", fail_code="501")
    )
    user = e2e.User(release.fakes, 5102)
    user.request_video()
    vg = release.wait_phase(5102, "Delivered", "Failed")
    assert vg["status"]["phase"] == "Failed" and vg["status"]["error"]["class"] == "USER_VIOLATION"
    release.wait(lambda: release.ledger(5102) == ["signup_bonus", "debit", "refund"], "the refund", 120)
    assert release.balance(5102) == 2
    release.wait(
        lambda: any(
            "Notified" == c["type"] and c["status"] == "True"
            for c in (release.vg_of(5102) or {}).get("status", {}).get("conditions", [])
        ),
        "Notified",
        120,
    )
    assert not user.calls(method="sendVideo")
    row = kit.kubectl(
        release.cluster, "get", "vg", vg["metadata"]["name"], "-n", release.namespace, "--no-headers"
    ).stdout.split()
    assert row[1:3] == ["Failed", "False"]
    release.wait(
        lambda: not (release.vg_of(5102) or {}).get("metadata", {}).get("finalizers"),
        "the finalizer released",
        60,
    )


def _slow(release: Release, seconds: float) -> None:
    def set_it() -> None:
        release.fakes.kie.generation_seconds = seconds

    release.fakes.loop.call_soon_threadsafe(set_it)


def test_deleted_while_running_is_refunded(release: Release) -> None:
    _slow(release, 3600)
    try:
        user = e2e.User(release.fakes, 5103)
        user.request_video()
        vg = release.wait_phase(5103, "Running")
        name = vg["metadata"]["name"]
        # Deleted at once (the runner has barely started): born with the finalizer, it still waits
        # for the operator's refund.
        assert vg["metadata"]["finalizers"] == ["vidgen.io/finalizer"]
        release.custom.delete_namespaced_custom_object(GROUP, VERSION, release.namespace, PLURAL, name)
        release.wait(lambda: release.vg_of(5103) is None, "the generation to go", 120)
        release.wait(lambda: release.ledger(5103) == ["signup_bonus", "debit", "refund"], "the refund", 120)
        # Its Job goes with it (owner reference, garbage collection).
        batch = client.BatchV1Api(release.api)
        release.wait(
            lambda: (
                not [
                    j
                    for j in batch.list_namespaced_job(release.namespace).items
                    if j.metadata.labels.get("vidgen.io/generation") == name
                ]
            ),
            "the Job to be collected",
            120,
        )
    finally:
        _slow(release, 0.5)


def test_operator_restart_mid_run_resumes(release: Release) -> None:
    """Watches across restarts: the operator pod is deleted while the Job runs; its successor
    picks the generation up from the status and the Job, and delivers once."""
    _slow(release, 15)
    try:
        user = e2e.User(release.fakes, 5104)
        user.request_video()
        release.wait_phase(5104, "Running")
        core = client.CoreV1Api(release.api)
        selector = "app.kubernetes.io/component=operator"
        (old,) = core.list_namespaced_pod(release.namespace, label_selector=selector).items
        core.delete_namespaced_pod(old.metadata.name, release.namespace)
        release.wait(
            lambda: [
                p
                for p in core.list_namespaced_pod(release.namespace, label_selector=selector).items
                if p.metadata.name != old.metadata.name and p.status.phase == "Running"
            ],
            "a new operator pod",
            180,
        )
        _slow(release, 0.5)
        vg = release.wait_phase(5104, "Delivered", "Failed")
        assert vg["status"]["phase"] == "Delivered" and vg["status"]["attempts"] == 1
        assert len(user.calls(method="sendVideo")) == 1
    finally:
        _slow(release, 0.5)


def test_the_operator_role_refuses_what_it_does_not_grant(release: Release) -> None:
    """The operator's ServiceAccount and Role, as the chart makes them, on the real authorizer."""
    core = client.CoreV1Api(release.api)
    token = core.create_namespaced_service_account_token(
        "vidgen-operator",
        release.namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    configuration = client.Configuration()
    base = release.api.configuration
    configuration.host = base.host
    configuration.ssl_ca_cert = base.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as as_operator:
        custom = client.CustomObjectsApi(as_operator)
        custom.list_namespaced_custom_object(GROUP, VERSION, release.namespace, PLURAL)  # granted
        client.BatchV1Api(as_operator).list_namespaced_job(release.namespace)  # granted
        refused = [
            lambda: custom.create_namespaced_custom_object(
                GROUP, VERSION, release.namespace, PLURAL, kit.vg_body("vg-1-rbac", release.namespace)
            ),
            lambda: custom.delete_namespaced_custom_object(
                GROUP, VERSION, release.namespace, PLURAL, "anything"
            ),
            lambda: client.CoreV1Api(as_operator).list_namespaced_secret(release.namespace),
            lambda: client.CoreV1Api(as_operator).delete_namespaced_pod("anything", release.namespace),
            lambda: custom.list_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL
            ),  # other namespaces
        ]
        for call in refused:
            with pytest.raises(ApiException) as info:
                call()
            assert info.value.status == 403, info.value.body


def test_uninstall_leaves_nothing_stuck(release: Release) -> None:
    """Last: the README's uninstall order — delete the generations while the operator runs (it
    refunds the unfinished and releases every finalizer), `helm uninstall`, delete the namespace."""
    _slow(release, 3600)
    user = e2e.User(release.fakes, 5105)
    user.request_video()
    release.wait_phase(5105, "Running")
    assert release.vgs(), "settled and running generations are present"
    release.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, release.namespace, PLURAL)
    release.wait(lambda: not release.vgs(), "every generation deleted", 120)
    assert release.ledger(5105) == ["signup_bonus", "debit", "refund"]
    release.helm.uninstall(e2e.RELEASE)
    release.wait(
        lambda: not client.AppsV1Api(release.api).list_namespaced_deployment(release.namespace).items,
        "the release's Deployments gone",
        120,
    )
    kit.delete_namespace(release.api, release.namespace, timeout=180)
    _slow(release, 0.5)
