"""The Job manifest is data: every field the design asks for, from the settings."""

from __future__ import annotations

from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings
from vidgen.operator.job_manifest import (
    LABEL_ATTEMPT,
    LABEL_GENERATION,
    MAX_NAME,
    build_job,
    job_name,
    runner_args,
)

SPEC = GenerationSpec(
    name="vg-42-abc",
    user_id=42,
    chat_id=4242,
    photo="inputs/vg-42-abc.jpg",
    prompt="waves roll in",
    model="veo3_fast",
    aspect_ratio="landscape",
    duration_seconds=8,
)


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "runner_image": "registry.example/vidgen-runner:1.2.3",
        "runner_service_account": "runner-sa",
        "runner_secret_name": "runner-secrets",
        "runner_cpu_request": "250m",
        "runner_memory_request": "300Mi",
        "runner_memory_limit": "2Gi",
        "job_active_deadline_seconds": 900,
        "job_ttl_seconds": 600,
        "storage_url": "s3://bucket/vidgen",
        "s3_endpoint_url": "http://minio:9000",
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


def test_job_has_every_specified_field() -> None:
    job = build_job(SPEC, 2, settings(), namespace="vidgen", owner_uid="uid-1")
    meta = job["metadata"]
    assert meta["name"] == "vg-42-abc-a2"
    assert meta["namespace"] == "vidgen"
    assert meta["labels"][LABEL_GENERATION] == "vg-42-abc"
    assert meta["labels"][LABEL_ATTEMPT] == "2"
    assert meta["labels"]["app.kubernetes.io/name"] == "vidgen"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "vidgen-operator"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "vidgen.io/v1alpha1",
            "kind": "VideoGeneration",
            "name": "vg-42-abc",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 900
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["podFailurePolicy"] == {
        "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
    }
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"] == meta["labels"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "runner-sa"
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/vidgen-runner:1.2.3"
    assert container["command"] == ["vidgen"]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "300Mi"},
        "limits": {"memory": "2Gi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "runner-secrets", "optional": True}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["VIDGEN_STORAGE_URL"] == "s3://bucket/vidgen"
    assert env["VIDGEN_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert not any("KEY" in name or "TOKEN" in name for name in env)  # secrets only via the Secret
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_runner_args_follow_the_invocation_contract() -> None:
    assert runner_args(SPEC, 3) == [
        "runner",
        "--name",
        "vg-42-abc",
        "--photo",
        "inputs/vg-42-abc.jpg",
        "--prompt",
        "waves roll in",
        "--model",
        "veo3_fast",
        "--aspect-ratio",
        "landscape",
        "--duration",
        "8",
        "--attempt",
        "3",
        "--termination-log",
        "/dev/termination-log",
    ]
    empty = GenerationSpec(name="vg-1-x", user_id=1, chat_id=1, photo="inputs/vg-1-x.jpg")
    assert "--prompt" not in runner_args(empty, 1)


def test_job_names_are_deterministic_and_fit() -> None:
    assert job_name("vg-1-abc", 1) == job_name("vg-1-abc", 1) == "vg-1-abc-a1"
    long = "vg-" + "x" * 60
    first, second = job_name(long, 1), job_name(long, 2)
    assert len(first) <= MAX_NAME and len(second) <= MAX_NAME
    assert first != second and first.endswith("-a1")
    assert job_name(long + "y", 1) != job_name(long + "z", 1)


def test_pvc_storage_is_mounted_and_pointed_at() -> None:
    job = build_job(
        SPEC,
        1,
        settings(storage_url="file://./data", storage_pvc="vidgen-data"),
        namespace="ns",
        owner_uid=None,
    )
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "storage", "persistentVolumeClaim": {"claimName": "vidgen-data"}} in pod["volumes"]
    assert {"name": "storage", "mountPath": "/data"} in container["volumeMounts"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["VIDGEN_STORAGE_URL"] == "file:///data"
    assert "ownerReferences" not in job["metadata"]


def test_runner_host_network_setting() -> None:
    from vidgen.core.models import GenerationSpec
    from vidgen.core.settings import Settings
    from vidgen.operator.job_manifest import build_job

    spec = GenerationSpec(name="vg-1-x", user_id=1, chat_id=1, photo="inputs/vg-1-x.jpg").validate()
    plain = build_job(spec, 1, Settings(_env_file=None), namespace="ns", owner_uid=None)
    assert "hostNetwork" not in plain["spec"]["template"]["spec"]
    on = build_job(
        spec, 1, Settings(_env_file=None, runner_host_network=True), namespace="ns", owner_uid=None
    )
    pod = on["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
