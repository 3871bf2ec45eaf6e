"""The Kubernetes adapter: VideoGenerations (the reconciler's store), Jobs and pods (its
executor) and Events, through the official `kubernetes` client. The client is synchronous, so
every call runs in a worker thread; objects are kept as plain dicts (the API's JSON), which is
what the pure modules read.

Credentials come from the settings: `kube_api_url` (tests, a proxy), else `kubeconfig`, else the
in-cluster service account; kopf's login handler reuses the same configuration.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import kubernetes
from kubernetes.client import ApiClient, ApiException, BatchV1Api, Configuration, CoreV1Api, CustomObjectsApi

from vidgen.core.lifecycle import JobOutcome, JobState
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.status import Generation

from .job_manifest import API_VERSION, GROUP, KIND, LABEL_GENERATION, PLURAL, VERSION, build_job
from .termination import job_outcome, job_state

log = get_logger(__name__)

COMPONENT = "vidgen-operator"


#: Connections to the API server, and threads for the (synchronous) kubernetes client's calls.
KUBE_CONNECTIONS = 32


def kube_configuration(settings: Settings) -> Configuration:
    """The client configuration for these settings (a new object; the global default is untouched)."""
    config = Configuration()
    # the admission loop starts attempts side by side and kopf watches beside it: keep their
    # connections (urllib3's default pool of 10 discards and reopens them)
    config.connection_pool_maxsize = KUBE_CONNECTIONS
    if settings.kube_api_url:
        config.host = settings.kube_api_url.rstrip("/")
        config.verify_ssl = False
        return config
    if settings.kubeconfig:
        kubernetes.config.load_kube_config(config_file=settings.kubeconfig, client_configuration=config)
        return config
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=config)
    return config


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _raw(response: Any) -> dict[str, Any]:
    data = response.data
    return json.loads(data.decode() if isinstance(data, bytes) else data)  # type: ignore[no-any-return]


class KubeApi:
    """The few calls the operator makes, in one namespace."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.custom = CustomObjectsApi(api)
        self.batch = BatchV1Api(api)
        self.core = CoreV1Api(api)

    @classmethod
    def from_settings(cls, settings: Settings) -> KubeApi:
        return cls(ApiClient(kube_configuration(settings)), settings.namespace)

    def close(self) -> None:
        self.api.close()

    # --- VideoGenerations ------------------------------------------------------------------

    async def get_generation(self, name: str) -> dict[str, Any] | None:
        try:
            body = await _call(
                self.custom.get_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return body  # type: ignore[no-any-return]

    async def list_generations(self) -> list[dict[str, Any]]:
        body = _raw(
            await _call(
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                _preload_content=False,
            )
        )
        return list(body.get("items") or [])

    async def patch_generation_status(self, name: str, status: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            body = await _call(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                name,
                {"status": dict(status)},
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return body  # type: ignore[no-any-return]

    # --- the admission anchor ------------------------------------------------------------------

    async def ensure_config_map(self, name: str, labels: Mapping[str, str]) -> None:
        """Create the ConfigMap if it does not exist (create-or-exists)."""
        body = {"metadata": {"name": name, "namespace": self.namespace, "labels": dict(labels)}}
        try:
            await _call(self.core.create_namespaced_config_map, self.namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    async def drop_finalizer(self, name: str, finalizer: str) -> None:
        """Remove one finalizer from a ConfigMap (best effort, on a graceful stop)."""
        try:
            body = await _call(self.core.read_namespaced_config_map, name, self.namespace)
            kept = [f for f in (body.metadata.finalizers or []) if f != finalizer]
            if kept != list(body.metadata.finalizers or []):
                patch = {"metadata": {"finalizers": kept, "resourceVersion": body.metadata.resource_version}}
                await _call(self.core.patch_namespaced_config_map, name, self.namespace, patch)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    # --- Jobs and pods -----------------------------------------------------------------------

    async def create_job(self, manifest: Mapping[str, Any]) -> bool:
        """Create the Job; False if it already exists (a replayed start)."""
        try:
            await _call(self.batch.create_namespaced_job, self.namespace, dict(manifest))
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def get_job(self, name: str) -> dict[str, Any] | None:
        try:
            return _raw(
                await _call(self.batch.read_namespaced_job, name, self.namespace, _preload_content=False)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def delete_job(self, name: str) -> None:
        try:
            await _call(
                self.batch.delete_namespaced_job, name, self.namespace, propagation_policy="Background"
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def list_pods(self, generation: str) -> list[dict[str, Any]]:
        body = _raw(
            await _call(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=f"{LABEL_GENERATION}={generation}",
                _preload_content=False,
            )
        )
        # Filter here too: a selector is a request, not every API (or mock) honours it.
        return [
            p
            for p in body.get("items") or []
            if ((p.get("metadata") or {}).get("labels") or {}).get(LABEL_GENERATION) == generation
        ]

    async def create_event(self, body: Mapping[str, Any]) -> None:
        await _call(self.core.create_namespaced_event, self.namespace, dict(body))


class EventStamps:
    """Strictly increasing event times (microseconds) for this process: two transitions in the
    same microsecond, or a clock step back, still get ordered times and names."""

    def __init__(self) -> None:
        self.last = 0

    def next(self, now: float) -> int:
        micros = max(int(now * 1_000_000), self.last + 1)
        self.last = micros
        return micros


_STAMPS = EventStamps()
#: Who reports the Events (`reportingInstance`): the pod's name in a cluster.
REPORTING_INSTANCE = (os.environ.get("POD_ID") or socket.gethostname())[:128]


def micro_time(micros: int) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(
    gen: Generation, namespace: str, reason: str, message: str, warning: bool, now: float
) -> dict[str, Any]:
    """One Event per transition, named `<generation>.<microseconds, hex>` and stamped with
    `eventTime` (microseconds), so `kubectl describe` and `kubectl events` list them in the order
    they happened (one-second `lastTimestamp`s and random names could not order them)."""
    micros = _STAMPS.next(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{gen.name}.{micros:x}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": gen.name,
            "namespace": namespace,
            **({"uid": gen.uid} if gen.uid else {}),
        },
        "reason": reason,
        "action": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "eventTime": micro_time(micros),
        "reportingComponent": COMPONENT,
        "reportingInstance": REPORTING_INSTANCE,
        "source": {"component": COMPONENT},
    }


class KubeGenerationStore:
    """`GenerationStore` over the VideoGeneration API."""

    def __init__(self, api: KubeApi, clock: Callable[[], float]) -> None:
        self.api = api
        self.clock = clock

    async def get(self, name: str) -> Generation | None:
        body = await self.api.get_generation(name)
        return Generation.from_body(body) if body is not None else None

    async def list(self) -> list[Generation]:
        out = []
        for body in await self.api.list_generations():
            try:
                out.append(Generation.from_body(body))
            except (KeyError, TypeError, ValueError):
                log.warning(
                    "skipping an unreadable VideoGeneration", name=(body.get("metadata") or {}).get("name")
                )
        return out

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Generation | None:
        body = await self.api.patch_generation_status(name, patch)
        return Generation.from_body(body) if body is not None else None

    async def record_event(
        self, gen: Generation, reason: str, message: str, *, warning: bool = False
    ) -> None:
        try:
            await self.api.create_event(
                event_body(gen, self.api.namespace, reason, message, warning, self.clock())
            )
        except Exception as exc:  # events are for people; never fail a transition for one
            log.warning("could not record an event", generation=gen.name, reason=reason, error=str(exc))


class StaleJob(Exception):
    """The attempt's Job name is taken by a Job of an earlier, deleted object."""


class JobExecutor:
    """`Executor` that runs each attempt as a Kubernetes Job (operator/job_manifest.py)."""

    def __init__(self, api: KubeApi, settings: Settings) -> None:
        self.api = api
        self.settings = settings

    async def start(self, gen: Generation, attempt: int) -> str:
        manifest = build_job(
            gen.spec,
            attempt,
            self.settings,
            namespace=self.api.namespace,
            owner_uid=gen.uid,
            account=gen.account,
        )
        name = str(manifest["metadata"]["name"])
        if await self.api.create_job(manifest):
            return name
        # 409: a replayed start (ours: carry on), or a leftover of an earlier object of the same
        # name that the garbage collector has not removed yet (never read its result).
        existing = await self.api.get_job(name)
        owners = {o.get("uid") for o in ((existing or {}).get("metadata") or {}).get("ownerReferences") or []}
        if existing is not None and gen.uid is not None and gen.uid not in owners:
            await self.api.delete_job(name)
            raise StaleJob(f"{name} belongs to an earlier object named {gen.name}; deleted, will retry")
        log.info("the attempt's Job already exists (a replayed start)", generation=gen.name, job=name)
        return name

    async def outcome(self, gen: Generation) -> JobOutcome:
        if not gen.job_name:
            return JobOutcome(JobState.MISSING)
        job = await self.api.get_job(gen.job_name)
        if job is None:
            return JobOutcome(JobState.MISSING)
        if job_state(job) is JobState.ACTIVE:
            return JobOutcome(JobState.ACTIVE)
        return job_outcome(job, await self.api.list_pods(gen.name))

    async def stop(self, gen: Generation) -> None:
        if gen.job_name:
            await self.api.delete_job(gen.job_name)
