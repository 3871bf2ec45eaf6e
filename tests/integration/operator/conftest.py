"""The operator's integration harness: kopf running for real against kmock's Kubernetes API,
the fake Telegram Bot API, real PostgreSQL, and file storage in a temporary folder.

The tests play the other actors: the bot (a debit + row via `create_request`, then the
VideoGeneration), and the kubelet (`Kubelet`: it creates the Job's pod with the termination
message the runner would write, then marks the Job complete or failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import jsonpatch
import kmock as kmocklib
import pytest
import yaml
from sqlalchemy import func, select

from tests import polling
from tests.fakes.telegram import TOKEN, FakeTelegram
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.models import CreditEntry, Event, Generation
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec, video_key
from vidgen.core.result import RunnerResult, encode
from vidgen.core.settings import Settings
from vidgen.core.status import iso
from vidgen.operator.handlers import OperatorRuntime

NS = "vidgen"
VG = "vidgen.io/v1alpha1/videogenerations"
JOBS = "batch/v1/jobs"
PODS = "v1/pods"
EVENTS = "v1/events"
VG_PATH = f"/apis/vidgen.io/v1alpha1/namespaces/{NS}/videogenerations"
JOBS_PATH = f"/apis/batch/v1/namespaces/{NS}/jobs"
PODS_PATH = f"/api/v1/namespaces/{NS}/pods"
ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
VIDEO = b"\x00\x00\x00\x18ftypmp42 fake video bytes"

JOBS_RESOURCE = kmocklib.resource(JOBS)
EVENTS_RESOURCE = kmocklib.resource(EVENTS)
ALL_VERBS = {"get", "list", "watch", "create", "patch", "delete"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy (bounded)."""
    return await polling.until(predicate, timeout, what, interval=0.02)


@attrs.define(kw_only=True)
class BoundedEmulator(kmocklib.KubernetesEmulator):
    """kmock's emulator with a bounded request log. kmock matches each new request against its
    whole request history (quadratic in the request count), which would make a 10-generation
    run take minutes; only the objects matter here. Job creations are logged separately."""

    keep_requests: int = 5
    job_creations: list[str] = attrs.field(factory=list)

    async def _handle(self, request: Any) -> Any:
        if len(self._requests) > 2 * self.keep_requests:
            del self._requests[: -self.keep_requests]
        if request.method == "POST" and request.resource == JOBS_RESOURCE and isinstance(request.data, dict):
            self.job_creations.append(request.data["metadata"]["name"])
        if request.method == "POST" and isinstance(request.data, dict):
            # a real API server gives every new object a resourceVersion (kopf's patches test it)
            request.data.setdefault("metadata", {}).setdefault("resourceVersion", "1")
        try:
            return await super()._handle(request)
        except jsonpatch.JsonPatchException as exc:
            # A JSON patch that does not apply (kopf removing a finalizer a stale event still
            # showed, already gone): the real API server answers 422, which kopf takes as "already
            # done"; kmock's default 500 makes kopf retry for a minute.
            raise kmocklib.KubernetesError(status=422, reason="Invalid", message=str(exc)) from None


@pytest.fixture
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": BoundedEmulator}


def declare_resources(kmock: Any) -> None:
    info = kmock.ResourceInfo
    kmock.resources[VG] = info(
        kind="VideoGeneration",
        singular="videogeneration",
        namespaced=True,
        verbs=ALL_VERBS,
        shortnames={"vg"},
        subresources={"status"},
    )
    kmock.resources[JOBS] = info(
        kind="Job", singular="job", namespaced=True, verbs=ALL_VERBS, subresources={"status"}
    )
    kmock.resources[PODS] = info(kind="Pod", singular="pod", namespaced=True, verbs=ALL_VERBS)
    kmock.resources[EVENTS] = info(kind="Event", singular="event", namespaced=True, verbs={"create", "list"})
    kmock.resources["v1/configmaps"] = info(
        kind="ConfigMap", singular="configmap", namespaced=True, verbs=ALL_VERBS
    )
    kmock.resources["v1/namespaces"] = info(
        kind="Namespace", namespaced=False, verbs={"get", "list", "watch"}
    )
    kmock.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = info(
        kind="CustomResourceDefinition", namespaced=False, verbs={"get", "list", "watch"}
    )


@dataclass
class Cluster:
    """The Kubernetes side as the tests see it (kmock's objects and requests)."""

    kmock: Any
    counter: int = 0

    # --- VideoGenerations --------------------------------------------------------------------

    async def create_vg(self, spec: GenerationSpec, status: dict[str, Any] | None = None) -> None:
        self.counter += 1
        body: dict[str, Any] = {
            "apiVersion": "vidgen.io/v1alpha1",
            "kind": "VideoGeneration",
            "metadata": {
                "name": spec.name,
                "namespace": NS,
                "uid": f"uid-{spec.name}",
                "resourceVersion": "1",
                "generation": 1,
                "creationTimestamp": spec.requested_at or iso(time.time()),
            },
            "spec": spec.to_crd(),
        }
        if status:
            body["status"] = status
        resp = await self.kmock.post(VG_PATH, json=body)
        assert resp.status == 200, await resp.text()

    async def delete_vg(self, name: str) -> None:
        resp = await self.kmock.delete(f"{VG_PATH}/{name}")
        assert resp.status == 200, await resp.text()

    def vg(self, name: str) -> dict[str, Any]:
        obj = self.kmock.objects[VG, NS, name]
        return dict(obj.raw) if not obj.deleted else {}

    def gone(self, name: str) -> bool:
        return bool(self.kmock.objects[VG, NS, name].deleted)

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.vg(name).get("status") or {})

    def phase(self, name: str) -> str | None:
        return self.status(name).get("phase")

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        return next((c for c in self.status(name).get("conditions") or [] if c["type"] == type_), None)

    # --- Jobs, pods, events -------------------------------------------------------------------

    def jobs(self) -> dict[str, dict[str, Any]]:
        out = {}
        for (resource, _ns, name), obj in self.kmock.objects.items():
            if resource == JOBS_RESOURCE and not obj.deleted:
                out[name] = dict(obj.raw)
        return out

    def job_posts(self) -> list[str]:
        """Names in every Job creation request, in order (409s included)."""
        return list(self.kmock.job_creations)

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for (resource, _ns, _name), obj in self.kmock.objects.items():
            if resource == EVENTS_RESOURCE and obj.raw["involvedObject"]["name"] == name:
                found.append(dict(obj.raw))
        return found

    async def create_job(self, manifest: dict[str, Any]) -> None:
        resp = await self.kmock.post(JOBS_PATH, json=manifest)
        assert resp.status == 200, await resp.text()

    async def finish_job(self, job: dict[str, Any], result: RunnerResult | None) -> None:
        """Play the kubelet and the Job controller: the pod terminates with the result line as its
        termination message (None: no message at all), then the Job is marked finished."""
        name = job["metadata"]["name"]
        labels = dict(job["spec"]["template"]["metadata"]["labels"])
        labels["batch.kubernetes.io/job-name"] = name
        ok = result is not None and result.ok
        terminated: dict[str, Any] = {"exitCode": result.exit_code if result else 1, "reason": "Completed"}
        if result is not None:
            terminated["message"] = encode(result)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-{uuid.uuid4().hex[:5]}", "namespace": NS, "labels": labels},
            "status": {
                "phase": "Succeeded" if ok else "Failed",
                "startTime": iso(time.time()),
                "containerStatuses": [{"name": "runner", "state": {"terminated": terminated}}],
            },
        }
        resp = await self.kmock.post(PODS_PATH, json=pod)
        assert resp.status == 200, await resp.text()
        condition = "Complete" if ok else "Failed"
        status = {
            "conditions": [{"type": condition, "status": "True"}],
            "succeeded" if ok else "failed": 1,
        }
        resp = await self.kmock.patch(f"{JOBS_PATH}/{name}/status", json={"status": status})
        assert resp.status == 200, await resp.text()


def ok_result(name: str) -> RunnerResult:
    return RunnerResult.success(
        video=video_key(name),
        bytes=len(VIDEO),
        duration=10.0,
        model="sora-2-image-to-video",
        taskId=f"task-{name}",
        prompt="a calm sea",
    )


@dataclass
class Kubelet:
    """Finishes every active Job after `run_time`, with the scripted result for its attempt
    (default: success). Records the most Jobs it ever saw running at once."""

    cluster: Cluster
    run_time: float = 0.1
    script: dict[str, list[RunnerResult | None]] = field(default_factory=dict)
    hold: set[str] = field(default_factory=set)
    max_active: int = 0
    started_order: list[str] = field(default_factory=list)
    finished_order: list[str] = field(default_factory=list)
    _seen: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def result_for(self, job: dict[str, Any]) -> RunnerResult | None:
        labels = job["metadata"]["labels"]
        generation, attempt = labels["vidgen.io/generation"], int(labels["vidgen.io/attempt"])
        script = self.script.get(generation, [])
        return script[attempt - 1] if attempt <= len(script) else ok_result(generation)

    async def _loop(self) -> None:
        while True:
            active = {
                n: j for n, j in self.cluster.jobs().items() if not (j.get("status") or {}).get("conditions")
            }
            self.max_active = max(self.max_active, len(active))
            now = time.monotonic()
            for name in sorted(active, key=lambda n: self._seen.setdefault(n, now)):
                if name not in self.started_order:
                    self.started_order.append(name)
                generation = active[name]["metadata"]["labels"]["vidgen.io/generation"]
                if generation in self.hold or now - self._seen[name] < self.run_time:
                    continue
                await self.cluster.finish_job(active[name], self.result_for(active[name]))
                self.finished_order.append(name)
            await asyncio.sleep(0.03)

    async def __aenter__(self) -> Kubelet:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Running:
    """An operator in a thread with its own event loop and database engine — as separate from
    the test (and from other operators) as a pod. kopf stops by cancelling every task started
    after it in its loop, so an operator sharing the test's loop would also cancel the test's
    own helpers (a kubelet's tasks) when stopped."""

    def __init__(self, runtime: OperatorRuntime, *, graceful_stop: bool = False) -> None:
        self.runtime = runtime
        self.graceful_stop = graceful_stop
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._main, daemon=True, name="operator")

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._task = loop.create_task(self.runtime.run(self.stop_flag))
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.error = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def start(self) -> None:
        self.thread.start()
        await until(lambda: self.runtime.started.is_set() or not self.thread.is_alive(), what="the operator")
        if not self.thread.is_alive():
            raise AssertionError(f"the operator stopped at once: {self.error!r}")

    async def stop(self) -> None:
        """Hard (a killed pod: in-flight work is cancelled mid-step) unless `graceful_stop`
        (SIGTERM: kopf finishes and leaves the peering object)."""
        if not self.thread.is_alive():
            return
        if self.graceful_stop:
            self.stop_flag.set()
        else:
            assert self._loop is not None and self._task is not None
            self._loop.call_soon_threadsafe(self._task.cancel)
        await asyncio.to_thread(self.thread.join, 20)
        # kopf waits for a threading.Event in an executor thread: release it, or the process
        # would wait for that thread at exit.
        self.stop_flag.set()
        assert not self.thread.is_alive(), "the operator did not stop"


Threaded = Running


@dataclass
class OperatorEnv:
    cluster: Cluster
    tg: FakeTelegram
    sessions: SessionMaker
    settings: Settings
    storage_dir: Path
    running: list[Running] = field(default_factory=list)

    async def start(
        self, *, standalone: bool = True, graceful_stop: bool = False, **overrides: Any
    ) -> Running:
        """Start an operator (several may run: each gets its own liveness port)."""
        if self.running:
            overrides.setdefault("health_port", free_port())
        settings = Settings.model_validate({**self.settings.model_dump(), **overrides})
        runtime = OperatorRuntime(settings, standalone=standalone, metrics_port=0, post_events=False)
        handle = Running(runtime, graceful_stop=graceful_stop)
        await handle.start()
        self.running.append(handle)
        return handle

    async def start_threaded(self, *, standalone: bool = True, **overrides: Any) -> Running:
        """An operator that stops gracefully (a rollout's SIGTERM)."""
        return await self.start(standalone=standalone, graceful_stop=True, **overrides)

    async def request(
        self,
        user_id: int,
        token: str,
        *,
        prompt: str = "",
        priority: int = 0,
        status: dict[str, Any] | None = None,
    ) -> GenerationSpec:
        """What the bot does: the user, the debit + row (one transaction), the photo, then the VG
        (with `status`: as an earlier operator run left it)."""
        spec = await self.seed(user_id, token, prompt=prompt, priority=priority)
        await self.cluster.create_vg(spec, status)
        return spec

    async def seed(self, user_id: int, token: str, *, prompt: str = "", priority: int = 0) -> GenerationSpec:
        """The database side of a request (and the video in storage), without the VG."""
        spec = GenerationSpec(
            name=f"vg-{user_id}-{token}",
            user_id=user_id,
            chat_id=user_id * 10,
            photo=f"inputs/vg-{user_id}-{token}.jpg",
            prompt=prompt,
            status_message_id=500 + user_id,
            priority=priority,
            requested_at=iso(time.time()),
        )
        async with transaction(self.sessions) as session:
            await ensure_user(session, user_id, free_credits=2)
            await create_request(session, spec, cost=1)
        self.put_video(spec.name)
        return spec

    def put_video(self, name: str) -> None:
        path = self.storage_dir / video_key(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(VIDEO)

    async def ledger(self, user_id: int) -> list[tuple[str, str, int]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(CreditEntry.kind, CreditEntry.ref, CreditEntry.delta)
                .where(CreditEntry.user_id == user_id)
                .order_by(CreditEntry.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    async def mirror(self, name: str) -> Generation:
        async with self.sessions() as session:
            row = await session.get(Generation, name, populate_existing=True)
            assert row is not None
            return row

    async def event_counts(self, name: str) -> dict[str, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Event.type, func.count()).where(Event.generation == name).group_by(Event.type)
            )
            return {t: int(n) for t, n in rows}

    def texts_to(self, chat_id: int, method: str = "sendMessage") -> list[str]:
        return [
            c.params.get("text", "")
            for c in self.tg.calls_to(method)
            if str(c.params.get("chat_id")) == str(chat_id)
        ]


@pytest.fixture
async def operator_env(
    kmock: Any, pg_url: str, pg_sessions: SessionMaker, tmp_path: Path
) -> AsyncIterator[OperatorEnv]:
    declare_resources(kmock)
    storage_dir = tmp_path / "data"
    storage_dir.mkdir()
    async with FakeTelegram() as tg:
        settings = Settings(
            database_url=pg_url,
            storage_url=f"file://{storage_dir}",
            telegram_token=TOKEN,  # type: ignore[arg-type]
            telegram_api_url=tg.url,
            kube_api_url=str(kmock.url),
            namespace=NS,
            health_port=free_port(),
            max_concurrency=3,
            per_user_concurrency=10,
            admission_interval_seconds=0.2,
            resync_interval_seconds=0.5,
            progress_min_interval_seconds=0.0,
            retry_base_delay_seconds=0.1,
            retry_max_delay_seconds=1.0,
            provider_rate_window_seconds=0.3,
            delivery_retry_delay_seconds=0.05,
            delivery_max_wait_seconds=2.0,
        )
        env = OperatorEnv(Cluster(kmock), tg, pg_sessions, settings, storage_dir)
        try:
            yield env
        finally:
            for handle in env.running:
                await handle.stop()


def schema_errors(body: dict[str, Any]) -> list[str]:
    """The CRD's openAPIV3Schema applied to an object (what the API server would check)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def names(specs: Iterable[GenerationSpec]) -> list[str]:
    return [s.name for s in specs]
