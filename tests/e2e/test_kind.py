"""End to end on a real cluster (kind): build both images, install the chart with the sandbox
provider (no KIE.AI key) and an in-cluster fake Telegram, launch one generation, wait for
Delivered, and check `kubectl get vg`, the fake Telegram's sendVideo and the database mirror.

Needs a Docker engine and the kind, kubectl and helm binaries; skipped (with the reason) where
any is missing, unless VIDGEN_E2E_REQUIRED=1 (CI), where that is a failure. Set
VIDGEN_E2E_KEEP_CLUSTER=1 to keep the cluster for a look afterwards (kind delete cluster --name …).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "vidgen"
RELEASE = "vidgen"
TAG = "e2e"
REGISTRY = "vidgen"  # images vidgen/bot:e2e, vidgen/runner:e2e (loaded into kind, never pulled)
TOKEN = "123456:TEST-token"  # tests.fakes.telegram.TOKEN
USER_ID = 4242
FAKE_TELEGRAM_IMAGE = "vidgen/fake-telegram:e2e"

#: (image, Dockerfile) built from the repository root.
IMAGES = [
    (f"{REGISTRY}/bot:{TAG}", "Dockerfile.bot"),
    (f"{REGISTRY}/runner:{TAG}", "Dockerfile.runner"),
    (FAKE_TELEGRAM_IMAGE, "tests/e2e/Dockerfile.fake-telegram"),
]

#: Chart values: the images above, the fake Telegram, no KIE.AI key (sandbox provider), the
#: in-chart PostgreSQL and a storage volume shared by the bot, the operator and the runner.
VALUES: dict[str, Any] = {
    "image": {"registry": REGISTRY, "tag": TAG, "pullPolicy": "Never"},
    "secrets": {"telegram": {"token": TOKEN}},
    "config": {"telegramApiUrl": "http://fake-telegram:8081", "logLevel": "DEBUG"},
    "postgresql": {"password": "e2e-password", "persistence": {"enabled": False}},
    "storage": {"persistence": {"size": "1Gi"}},
    "operator": {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}},
    "bot": {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}},
    "runner": {"cpuRequest": "10m", "memoryRequest": "64Mi"},
}

FAKE_TELEGRAM = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fake-telegram
  namespace: {NAMESPACE}
  labels: {{app: fake-telegram}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: fake-telegram}}
  template:
    metadata:
      labels: {{app: fake-telegram}}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {{type: RuntimeDefault}}
      containers:
        - name: fake-telegram
          image: {FAKE_TELEGRAM_IMAGE}
          imagePullPolicy: Never
          ports: [{{name: http, containerPort: 8081}}]
          readinessProbe:
            httpGet: {{path: /_control/health, port: http}}
            periodSeconds: 2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata:
  name: fake-telegram
  namespace: {NAMESPACE}
spec:
  selector: {{app: fake-telegram}}
  ports: [{{name: http, port: 8081, targetPort: http}}]
"""

#: Runs inside the bot pod (its settings, database and storage volume): a user with the signup
#: credits, the photo in storage, and the request (debit + generation row + outbox) — what the
#: bot's confirm step does.
SEED = """
import asyncio, base64, json
from vidgen.core.db.engine import make_engine, make_sessionmaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.settings import load_settings
from vidgen.storage import open_storage

USER = {user}
PHOTO = base64.b64decode("{photo}")

async def main():
    settings = load_settings()
    name = generation_name(USER, "{token}")
    open_storage(settings).put(photo_key(name), PHOTO, "image/jpeg")
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    async with transaction(sessions) as session:
        await ensure_user(session, USER, free_credits=settings.free_credits, language="en")
    spec = GenerationSpec(
        name=name, user_id=USER, chat_id=USER, photo=photo_key(name),
        prompt="The cat turns its head toward the camera",
    ).validate()
    async with transaction(sessions) as session:
        balance, created = await create_request(session, spec, settings.credits_per_video)
    await engine.dispose()
    print(json.dumps({{"name": name, "balance": balance, "created": created, "spec": spec.to_crd()}}))

asyncio.run(main())
"""

#: Runs inside the bot pod: the generation's mirror row and the user's balance.
MIRROR = """
import asyncio, json
from sqlalchemy import text
from vidgen.core.db.engine import make_engine
from vidgen.core.settings import load_settings

async def main():
    engine = make_engine(load_settings().database_url)
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT phase, refunded FROM generations WHERE name = :n"), {{"n": "{name}"}})).one()
        balance = (await conn.execute(text("SELECT balance FROM users WHERE id = {user}"))).scalar_one()
    await engine.dispose()
    print(json.dumps({{"phase": row[0], "refunded": row[1], "balance": balance}}))

asyncio.run(main())
"""


def missing_prerequisite() -> str | None:
    """Why the e2e cannot run here, or None."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI on PATH (the kind e2e needs a Docker engine)"
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "no Docker engine reachable (`docker info` timed out)"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"no Docker engine reachable (`docker info` failed: {lines[-1] if lines else 'no output'})"
    for tool, where in (
        ("kind", "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"),
        ("kubectl", "https://kubernetes.io/docs/tasks/tools/"),
        ("helm", "https://helm.sh/docs/intro/install/"),
    ):
        if shutil.which(tool) is None:
            return f"no {tool} binary on PATH ({where})"
    return None


@dataclass
class Cluster:
    name: str
    kubeconfig: Path

    def run(self, *args: str, input: str | None = None, timeout: float = 600, check: bool = True) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "DOCKER_BUILDKIT": "1"}
        result = subprocess.run(
            list(args), input=input, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:6])} … failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def kubectl(self, *args: str, **kw: Any) -> str:
        return self.run("kubectl", "-n", NAMESPACE, *args, **kw)

    def python_in_bot(self, script: str) -> dict[str, Any]:
        out = self.kubectl(
            "exec", "-i", f"deploy/{RELEASE}-bot", "-c", "bot", "--", "python", "-", input=script, timeout=120
        )
        return dict(json.loads(out.strip().splitlines()[-1]))

    def diagnostics(self) -> str:
        parts = []
        for args in (
            ("get", "all,vg,pvc", "-o", "wide"),
            ("describe", "vg"),
            ("get", "events", "--sort-by=.lastTimestamp"),
            ("logs", f"deploy/{RELEASE}-operator", "--all-containers", "--tail=200"),
            ("logs", f"deploy/{RELEASE}-bot", "--all-containers", "--tail=100"),
            ("logs", "-l", "app.kubernetes.io/component=runner", "--tail=100"),
            ("logs", "deploy/fake-telegram", "--tail=50"),
        ):
            parts.append(f"$ kubectl {' '.join(args)}\n" + self.kubectl(*args, check=False, timeout=60))
        return "\n".join(parts)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = missing_prerequisite()
    if reason:
        if os.environ.get("VIDGEN_E2E_REQUIRED") == "1":
            pytest.fail(f"VIDGEN_E2E_REQUIRED=1 but {reason}")
        pytest.skip(reason)
    name = os.environ.get("VIDGEN_E2E_CLUSTER", f"vidgen-e2e-{uuid.uuid4().hex[:6]}")
    c = Cluster(name, tmp_path_factory.mktemp("kind") / "kubeconfig")
    c.run("kind", "create", "cluster", "--name", name, "--kubeconfig", str(c.kubeconfig), "--wait", "180s")
    try:
        for image, dockerfile in IMAGES:
            c.run("docker", "build", "-f", dockerfile, "-t", image, ".", timeout=1800)
            c.run("kind", "load", "docker-image", image, "--name", name, timeout=600)
        c.run("kubectl", "create", "namespace", NAMESPACE)
        c.kubectl("apply", "-f", "-", input=FAKE_TELEGRAM)
        c.kubectl("rollout", "status", "deploy/fake-telegram", "--timeout=180s", timeout=240)
        values = tmp_path_factory.mktemp("values") / "values.yaml"
        values.write_text(yaml.safe_dump(VALUES))
        c.run(
            "helm",
            "install",
            RELEASE,
            "charts/vidgen",
            "--namespace",
            NAMESPACE,
            "--values",
            str(values),
            "--wait",
            "--timeout",
            "15m",
            timeout=1000,
        )
        yield c
    except BaseException:
        print(c.diagnostics())
        raise
    finally:
        if os.environ.get("VIDGEN_E2E_KEEP_CLUSTER") != "1":
            c.run("kind", "delete", "cluster", "--name", name, check=False, timeout=300)


def wait_for_phase(c: Cluster, name: str, wanted: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = c.kubectl("get", "vg", name, "-o", "json", check=False, timeout=60)
        if out:
            status = json.loads(out).get("status", {})
            if status.get("phase") == wanted:
                return status
            if status.get("phase") == "Failed":
                break
        time.sleep(3)
    raise AssertionError(f"{name} did not reach {wanted}: status {status}\n{c.diagnostics()}")


@pytest.mark.e2e
@pytest.mark.timeout(2400)  # building the images and installing take most of it
def test_a_generation_is_delivered(cluster: Cluster) -> None:
    c = cluster
    # The CRD is installed by the chart, with its printer columns.
    crd = json.loads(c.run("kubectl", "get", "crd", "videogenerations.vidgen.io", "-o", "json"))
    columns = [col["name"] for col in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "User", "Attempts", "Model", "Error", "Age"]

    photo = base64.b64encode((ROOT / "examples" / "cat.jpg").read_bytes()).decode()
    seeded = c.python_in_bot(SEED.format(user=USER_ID, photo=photo, token=uuid.uuid4().hex[:8]))
    name = seeded["name"]
    assert seeded["created"] is True and seeded["balance"] == 1  # 2 signup credits − 1

    manifest = {
        "apiVersion": "vidgen.io/v1alpha1",
        "kind": "VideoGeneration",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": seeded["spec"],
    }
    # The bot's outbox sweeper launches the same object; apply is idempotent with it.
    c.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))

    status = wait_for_phase(c, name, "Delivered", timeout=900)
    assert status["attempts"] == 1
    assert status["result"]["video"] == f"outputs/{name}.mp4"
    assert not status.get("refunded")

    # kubectl get vg: the printer columns.
    table = c.kubectl("get", "vg", name).splitlines()
    assert table[0].split() == ["NAME", "PHASE", "USER", "ATTEMPTS", "MODEL", "ERROR", "AGE"]
    row = table[1].split()
    assert row[:5] == [name, "Delivered", str(USER_ID), "1", "sora-2-image-to-video"]

    # The video reached the user through the fake Telegram.
    proxy = f"/api/v1/namespaces/{NAMESPACE}/services/http:fake-telegram:8081/proxy"
    calls = json.loads(c.run("kubectl", "get", "--raw", f"{proxy}/_control/calls"))
    videos = [call for call in calls if call["method"] == "sendVideo"]
    assert [v["params"]["chat_id"] for v in videos] == [str(USER_ID)]
    assert videos[0]["files"].get("video", 0) > 1000 or videos[0]["params"].get("video", "").startswith(
        "http"
    )

    # The database mirrors the object, and the credit stays spent.
    mirror = c.python_in_bot(MIRROR.format(name=name, user=USER_ID))
    assert mirror == {"phase": "Delivered", "refunded": False, "balance": 1}

    # The runner's Job ran under its own account, with no token.
    jobs = json.loads(c.kubectl("get", "jobs", "-l", f"vidgen.io/generation={name}", "-o", "json"))["items"]
    assert len(jobs) == 1
    pod_spec = jobs[0]["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == f"{RELEASE}-runner"
    assert pod_spec["automountServiceAccountToken"] is False


@pytest.mark.e2e
@pytest.mark.timeout(2400)  # may be the one that builds the cluster (run alone)
def test_the_bot_and_operator_may_not_do_more_than_they_need(cluster: Cluster) -> None:
    """RBAC on the live API server (kubectl auth can-i as each ServiceAccount)."""
    c = cluster

    def can(account: str, verb: str, resource: str) -> bool:
        out = c.kubectl(
            "auth",
            "can-i",
            verb,
            resource,
            f"--as=system:serviceaccount:{NAMESPACE}:{RELEASE}-{account}",
            check=False,
        )
        return out.strip() == "yes"

    assert can("bot", "create", "videogenerations.vidgen.io")
    assert not can("bot", "delete", "videogenerations.vidgen.io")
    assert not can("bot", "create", "jobs.batch")
    assert can("operator", "create", "jobs.batch") and can(
        "operator", "patch", "videogenerations.vidgen.io/status"
    )
    assert not can("operator", "get", "secrets")
    assert not can("runner", "get", "pods") and not can("runner", "get", "videogenerations.vidgen.io")


def fake_tool(folder: Path, name: str, exit_code: int = 0, stderr: str = "") -> None:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {exit_code}\n")
    tool.chmod(0o755)


@pytest.mark.parametrize(
    ("tools", "reason"),
    [
        ({}, "no docker CLI on PATH"),
        (
            {"docker": (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")},
            "no Docker engine reachable (`docker info` failed: Cannot connect to the Docker daemon at "
            "unix:///var/run/docker.sock.)",
        ),
        ({"docker": (0, "")}, "no kind binary on PATH"),
        ({"docker": (0, ""), "kind": (0, ""), "kubectl": (0, "")}, "no helm binary on PATH"),
    ],
)
def test_skip_reason_names_the_missing_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: dict[str, tuple[int, str]], reason: str
) -> None:
    """Runs everywhere (no cluster): the skip reason says exactly what is missing."""
    for name, (code, err) in tools.items():
        fake_tool(tmp_path, name, code, err)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert (missing_prerequisite() or "").startswith(reason)


# --- what the e2e feeds the cluster, checked here without one ---------------------------------


def test_e2e_values_and_manifests_are_valid() -> None:
    import kubernetes_validate

    from tests.chart.render import render

    docs = render(VALUES)
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"} == {
        f"{RELEASE}-operator",
        f"{RELEASE}-bot",
    }
    for doc in [*docs, *yaml.safe_load_all(FAKE_TELEGRAM)]:
        kubernetes_validate.validate(doc, "1.33", strict=True)


@pytest.mark.postgres
def test_seed_and_mirror_scripts(pg_url: str, tmp_path: Path) -> None:
    """The scripts the e2e pipes into the bot pod, run here against PostgreSQL and a folder."""
    import sys

    env = {
        **os.environ,
        "VIDGEN_DATABASE_URL": pg_url,
        "VIDGEN_STORAGE_URL": f"file://{tmp_path}",
        "PYTHONPATH": str(ROOT),
    }
    photo = base64.b64encode((ROOT / "examples" / "cat.jpg").read_bytes()).decode()
    token = uuid.uuid4().hex[:8]
    user = 900_000 + int(token[:4], 16)

    def run(script: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-"],
            input=script,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))

    seeded = run(SEED.format(user=user, photo=photo, token=token))
    name = seeded["name"]
    assert name == f"vg-{user}-{token}"
    assert seeded["created"] is True and seeded["balance"] == 1
    assert seeded["spec"]["userId"] == user and seeded["spec"]["photo"] == f"inputs/{name}.jpg"
    assert (tmp_path / "inputs" / f"{name}.jpg").read_bytes() == (ROOT / "examples" / "cat.jpg").read_bytes()
    # The manifest the e2e applies passes the CRD's schema.
    import jsonschema

    crd = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
    jsonschema.validate(
        {
            "apiVersion": "vidgen.io/v1alpha1",
            "kind": "VideoGeneration",
            "metadata": {"name": name},
            "spec": seeded["spec"],
        },
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
    )
    assert run(MIRROR.format(name=name, user=user)) == {"phase": "Pending", "refunded": False, "balance": 1}
