"""The Kubernetes Job for one attempt of one generation. A pure function of the spec, the attempt
and the settings (no kopf, no kubernetes client), so it is tested as data and the local
controller can read the same runner arguments (`runner_args`).

- One Job per attempt, named `<generation>-a<attempt>`: a replayed start gets 409 for the same
  attempt instead of a second Job.
- `backoffLimit: 0`: the operator owns retries (it knows the error class); `podFailurePolicy`
  ignores disruptions (eviction, preemption), so those retry the pod without costing an attempt.
- The runner needs no Kubernetes rights: its own service account, no token mounted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vidgen.core.models import GenerationSpec
from vidgen.core.runner_settings import runner_variables
from vidgen.core.settings import Settings
from vidgen.core.status import DEFAULT_ACCOUNT

GROUP = "vidgen.io"
VERSION = "v1alpha1"
KIND = "VideoGeneration"
PLURAL = "videogenerations"
API_VERSION = f"{GROUP}/{VERSION}"

LABEL_GENERATION = "vidgen.io/generation"
LABEL_ATTEMPT = "vidgen.io/attempt"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "vidgen-operator"
CONTAINER = "runner"
TERMINATION_LOG = "/dev/termination-log"
MAX_NAME = 63
RUNNER_UID = 10001


def job_name(name: str, attempt: int) -> str:
    """`<name>-a<attempt>`, shortened with a hash when it would pass 63 characters."""
    suffix = f"-a{attempt}"
    if len(name) + len(suffix) <= MAX_NAME:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    head = name[: MAX_NAME - len(suffix) - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}{suffix}"


def runner_args(spec: GenerationSpec, attempt: int, termination_log: str = TERMINATION_LOG) -> list[str]:
    """Arguments of `vidgen` for one attempt (the runner invocation contract)."""
    args = ["runner", "--name", spec.name, "--photo", spec.photo]
    if spec.prompt:
        args += ["--prompt", spec.prompt]
    args += [
        "--model",
        spec.model,
        "--aspect-ratio",
        spec.aspect_ratio,
        "--duration",
        str(spec.duration_seconds),
        "--attempt",
        str(attempt),
        "--termination-log",
        termination_log,
    ]
    return args


def runner_env(settings: Settings) -> list[dict[str, str]]:
    """The runner's settings (core's one list; the secrets come from the runner Secret)."""
    storage = f"file://{settings.runner_storage_mount_path}" if settings.storage_pvc else settings.storage_url
    variables = runner_variables(settings, secrets=False, storage_url=storage)
    env = [{"name": name, "value": value} for name, value in variables.items() if name != "VIDGEN_LOG_FORMAT"]
    env.append({"name": "VIDGEN_LOG_FORMAT", "value": "json"})
    # The root filesystem is read-only: temporary files and caches go to the /tmp emptyDir.
    env += [{"name": "HOME", "value": "/tmp"}, {"name": "TMPDIR", "value": "/tmp"}]
    return env


def account_key_secret_key(account: str) -> str:
    """The runner Secret's key holding an account's KIE.AI key (`default`: VIDGEN_KIE_API_KEY)."""
    if account == DEFAULT_ACCOUNT:
        return "VIDGEN_KIE_API_KEY"
    return "VIDGEN_KIE_API_KEY_" + account.upper().replace("-", "_")


def account_key_env(settings: Settings, account: str) -> list[dict[str, Any]]:
    """The attempt's KIE.AI key: the account's own Secret key overrides the Secret's default."""
    if account == DEFAULT_ACCOUNT:
        return []
    ref = {"name": settings.runner_secret_name, "key": account_key_secret_key(account)}
    return [{"name": "VIDGEN_KIE_API_KEY", "valueFrom": {"secretKeyRef": ref}}]


def labels(name: str, attempt: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "vidgen",
        "app.kubernetes.io/component": "runner",
        "app.kubernetes.io/part-of": "vidgen",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_GENERATION: name,
        LABEL_ATTEMPT: str(attempt),
    }


def build_job(
    spec: GenerationSpec,
    attempt: int,
    settings: Settings,
    *,
    namespace: str,
    owner_uid: str | None,
    account: str = DEFAULT_ACCOUNT,
) -> dict[str, Any]:
    name = job_name(spec.name, attempt)
    meta_labels = labels(spec.name, attempt)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": meta_labels}
    if owner_uid:
        metadata["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": spec.name,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    resources: dict[str, Any] = {
        "requests": {"cpu": settings.runner_cpu_request, "memory": settings.runner_memory_request},
        "limits": {"memory": settings.runner_memory_limit},
    }
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if settings.storage_pvc:
        mounts.append({"name": "storage", "mountPath": settings.runner_storage_mount_path})
        volumes.append({"name": "storage", "persistentVolumeClaim": {"claimName": settings.storage_pvc}})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.runner_image,
        "command": ["vidgen"],
        "args": runner_args(spec, attempt),
        "env": runner_env(settings) + account_key_env(settings, account),
        "envFrom": [{"secretRef": {"name": settings.runner_secret_name, "optional": True}}],
        "resources": resources,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.runner_service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "seccompProfile": {"type": "RuntimeDefault"},
            "fsGroup": RUNNER_UID,
        },
        "containers": [container],
        "volumes": volumes,
    }
    if settings.runner_host_network:
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": settings.job_active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": {
                "metadata": {"labels": meta_labels},
                "spec": pod_spec,
            },
        },
    }
