"""GenerationLauncher (and its counterpart, cancelling) on the Kubernetes API — used by the bot and
the HTTP API, so it lives with the operator's Kubernetes adapters: creates the VideoGeneration custom resource with the
official `kubernetes` client (in-cluster service account, else a kubeconfig).

The object's name is the generation's name (derived from the request token), so a retried
launch finds the object already there (HTTP 409) and treats it as launched: one request, one
object. Transient API failures (5xx, connection errors) are retried a few times here; anything
still failing is left to the outbox sweeper.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from urllib3.exceptions import HTTPError

from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings

log = get_logger(__name__)

GROUP = "vidgen.io"
VERSION = "v1alpha1"
PLURAL = "videogenerations"
KIND = "VideoGeneration"
#: The operator's finalizer (vidgen.operator.handlers.FINALIZER; a test keeps them equal).
FINALIZER = "vidgen.io/finalizer"


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in (429, 500, 502, 503, 504) or exc.status == 0
    return isinstance(exc, (HTTPError, ConnectionError, TimeoutError))


def manifest(spec: GenerationSpec, namespace: str) -> dict[str, Any]:
    """The VideoGeneration for `spec` (validated by the CRD's schema on the API server)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": spec.name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "vidgen",
                "app.kubernetes.io/part-of": "vidgen",
                "app.kubernetes.io/created-by": "vidgen-bot",
                "vidgen.io/user": str(spec.user_id),
            },
            # Born with the operator's finalizer: a request deleted before the operator first sees
            # it (a fraction of a second after creation, seen on a real cluster) still waits for
            # the operator to refund it. The operator drops the finalizer once it is settled.
            "finalizers": [FINALIZER],
        },
        "spec": spec.to_crd(),
    }


def load_api_client(settings: Settings) -> client.ApiClient:
    """In-cluster configuration (the pod's service account) when running in a cluster, else the
    kubeconfig (`VIDGEN_KUBECONFIG`, or the client's default ~/.kube/config)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(config_file=settings.kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)


class KubernetesLauncher:
    def __init__(
        self, api_client: client.ApiClient, namespace: str, *, attempts: int = 3, wait_seconds: float = 0.5
    ) -> None:
        self.api = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.attempts = attempts
        self.wait_seconds = wait_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> KubernetesLauncher:
        return cls(load_api_client(settings), settings.namespace)

    def _create(self, body: dict[str, Any]) -> bool:
        try:
            # Strict: a field the CRD does not know is refused, not silently pruned.
            self.api.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, body, field_validation="Strict"
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def launch(self, spec: GenerationSpec) -> None:
        body = manifest(spec, self.namespace)
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.wait_seconds, max=5),
            reraise=True,
        ):
            with attempt:
                created = await asyncio.to_thread(self._create, body)
        log.info(
            "videogeneration created" if created else "videogeneration already exists",
            generation=spec.name,
            namespace=self.namespace,
        )

    def _delete(self, name: str) -> bool:
        try:
            self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def cancel(self, name: str) -> None:
        """Delete the VideoGeneration: the operator's finalizer stops its attempt and refunds it
        unless it had finished. Idempotent (an object already gone is fine)."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.wait_seconds, max=5),
            reraise=True,
        ):
            with attempt:
                deleted = await asyncio.to_thread(self._delete, name)
        log.info("videogeneration deleted" if deleted else "videogeneration already gone", generation=name)
