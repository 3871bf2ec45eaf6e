"""The kopf shell: handlers that route kopf's events, timers and deletions to the reconciler
(operator/reconciler.py), and `OperatorRuntime`, which wires the adapters and runs kopf.

Handlers are thin by design: each reads what kopf hands it and calls one reconciler method.
They run only while this replica is the active peer (kopf pauses them under peering), which is
what keeps two replicas from acting twice; every action is also idempotent on replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from vidgen.core.chatless import ChatlessDelivery
from vidgen.core.db.engine import SessionMaker, make_engine, make_sessionmaker
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.status import Generation, is_settled
from vidgen.storage import open_storage

from .delivery import TelegramDelivery, make_bot
from .job_manifest import GROUP, LABEL_GENERATION, LABEL_MANAGED_BY, MANAGED_BY, PLURAL, VERSION
from .k8s import KUBE_CONNECTIONS, JobExecutor, KubeApi, KubeGenerationStore, kube_configuration
from .metrics import Metrics
from .progress import ProgressEditor
from .reconciler import Reconciler
from .settlement import Settlement

log = get_logger(__name__)

FINALIZER = "vidgen.io/finalizer"
#: The label of the operator's admission ConfigMap (the anchor of the admission daemon).
LABEL_ROLE = "vidgen.io/role"
ROLE_ADMISSION = "admission"
ANNOTATIONS_PREFIX = "vidgen.io"


# --- handlers ---------------------------------------------------------------------------------


async def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """Log kopf in with the same credentials as the kubernetes client (settings → config)."""
    config = kube_configuration(memo.settings)
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix("authorization")
    scheme, _sep, token = (header or "").rpartition(" ")
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        scheme=scheme or ("Bearer" if token else None),
        token=token or None,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


async def on_generation_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    name = body["metadata"]["name"]
    if type == "DELETED":
        memo.reconciler.forget(name)
        return
    await memo.reconciler.observe(Generation.from_body(body))


async def on_job_event(
    type: str | None, body: kopf.Body, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    generation = labels.get(LABEL_GENERATION)
    if generation:
        await memo.reconciler.job_changed(generation, None if type == "DELETED" else dict(body))


async def on_generation_deleted(name: str, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.finalize(name)


async def admission_daemon(stopped: kopf.DaemonStopped, memo: kopf.Memo, **_: Any) -> None:
    """The one admission loop of this operator: a daemon of the admission ConfigMap, so kopf
    runs it only on the active replica (it stops daemons while peering pauses the operator) and
    stops it on exit. The loop itself never ends; it is cancelled when the daemon stops."""
    reconciler: Reconciler = memo.reconciler
    loop = asyncio.create_task(reconciler.admission.run(), name="admission-loop")
    try:
        await stopped.wait()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def admission_probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    admission = memo.reconciler.admission
    return {
        "last_admission_pass": admission.last_pass,
        "running_cap": memo.settings.running_cap,
        "accounts_out_of_rotation": sorted(admission.out_of_rotation),
    }


def make_registry(settings: Settings) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login)
    kopf.on.probe(id="admission", registry=registry)(admission_probe)
    kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)(on_generation_event)
    kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED_BY: MANAGED_BY}, registry=registry)(
        on_job_event
    )
    # The finalizer guards the refund of an unfinished generation, so it is held only while one is
    # unsettled: kopf adds it while a deletion handler matches and removes it once none does. A
    # settled object is then deleted at once, also with the operator gone (helm uninstall,
    # namespace or CRD deletion), instead of hanging in Terminating.
    kopf.on.delete(
        GROUP, VERSION, PLURAL, when=lambda status, **_: not is_settled(status), registry=registry
    )(on_generation_deleted)
    # One admission loop per operator (not a timer per object): a daemon of one ConfigMap.
    # A failed loop (it only ends on a bug) is restarted after admission_interval_seconds.
    kopf.daemon(
        "",
        "v1",
        "configmaps",
        id="admission",
        labels={LABEL_ROLE: ROLE_ADMISSION},
        field="metadata.name",
        value=settings.admission_anchor,
        backoff=settings.admission_interval_seconds,
        cancellation_timeout=5.0,
        registry=registry,
    )(admission_daemon)
    _without_finalizer(registry, "admission")
    return registry


def _without_finalizer(registry: kopf.OperatorRegistry, handler_id: str) -> None:
    """kopf gives every daemon's object a finalizer, so that it can stop the daemon before the
    object goes. The admission ConfigMap needs none (a daemon whose object is deleted is stopped
    on the DELETED event), and a finalizer there would leave the ConfigMap — and its namespace —
    stuck in Terminating once no operator runs (`helm uninstall`, a namespace deletion)."""
    handlers = registry._spawning._handlers  # kopf has no public switch for this
    for i, handler in enumerate(handlers):
        if handler.id == handler_id or handler.id.startswith(f"{handler_id}/"):
            handlers[i] = dataclasses.replace(handler, requires_finalizer=False)


def kopf_settings(*, post_events: bool = True) -> kopf.OperatorSettings:
    config = kopf.OperatorSettings()
    config.scanning.disabled = True  # one namespace, given explicitly
    config.persistence.finalizer = FINALIZER
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATIONS_PREFIX)
    config.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATIONS_PREFIX)
    # The reconciler records its own Events for every transition; kopf adds only its problems.
    config.posting.enabled = post_events
    config.posting.level = logging.WARNING
    return config


# --- runtime ----------------------------------------------------------------------------------


class OperatorRuntime:
    """Everything the operator process runs: adapters, reconciler, /metrics and kopf.

    `standalone` turns peering off (tests, a single replica without the KopfPeering CRD);
    `sessions` and `metrics_port` are for tests (default: the settings' database and port)."""

    def __init__(
        self,
        settings: Settings,
        *,
        standalone: bool = False,
        sessions: SessionMaker | None = None,
        metrics_port: int | None = None,
        liveness: bool = True,
        post_events: bool = True,
    ) -> None:
        self.settings = settings
        self.standalone = standalone
        self.sessions = sessions
        self.metrics_port = settings.metrics_port if metrics_port is None else metrics_port
        self.liveness = liveness
        self.post_events = post_events
        # kopf pauses every replica whose priority ties the highest, so each replica needs its
        # own: by default the start time in milliseconds (the newest replica leads; a rollout
        # hands over as soon as the new pod runs).
        self.priority = (
            settings.peering_priority if settings.peering_priority is not None else int(time.time() * 1000)
        )
        self.reconciler: Reconciler | None = None
        self.started = threading.Event()  # set once /metrics serves (any thread may wait)

    async def run(self, stop_flag: asyncio.Event | threading.Event | None = None) -> None:
        """Run until `stop_flag` is set (a graceful stop) or the task is cancelled."""
        settings = self.settings
        settings.require("telegram_token")
        # every kubernetes client call runs in a thread: the default pool (cores + 4) would make
        # a pass's parallel starts and the resyncs queue behind each other
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(KUBE_CONNECTIONS))
        api = KubeApi.from_settings(settings)
        engine = None
        sessions = self.sessions
        if sessions is None:
            engine = make_engine(settings.database_url)
            sessions = make_sessionmaker(engine)
        bot = make_bot(settings)
        metrics = Metrics()
        progress = ProgressEditor(bot, settings.progress_min_interval_seconds)
        self.reconciler = Reconciler(
            settings,
            KubeGenerationStore(api, time.time),
            JobExecutor(api, settings),
            Settlement(sessions),
            ChatlessDelivery(TelegramDelivery(bot, open_storage(settings))),  # API requests: no chat
            progress,
            metrics,
        )
        await api.ensure_config_map(settings.admission_anchor, {LABEL_ROLE: ROLE_ADMISSION})
        server, _thread = metrics.serve(self.metrics_port)
        self.metrics_port = server.server_port
        self.started.set()
        log.info("operator starting", namespace=settings.namespace, metrics_port=self.metrics_port)
        try:
            await kopf.operator(
                registry=make_registry(settings),
                settings=kopf_settings(post_events=self.post_events),
                memo=kopf.Memo(reconciler=self.reconciler, settings=settings),
                namespaces=[settings.namespace],
                standalone=self.standalone,
                peering_name=None if self.standalone else settings.peering_name,
                priority=self.priority,
                liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz" if self.liveness else None,
                stop_flag=stop_flag,
            )
        finally:
            # the daemon's finalizer would keep the ConfigMap (and its namespace) from going
            # away while no operator runs; the next operator adds it again
            with contextlib.suppress(Exception):
                await api.drop_finalizer(settings.admission_anchor, FINALIZER)
            await progress.aclose()
            await asyncio.to_thread(server.shutdown)
            server.server_close()
            await bot.session.close()
            api.close()
            if engine is not None:
                await engine.dispose()
