"""The end-to-end installation the README's "Install on Kubernetes" section describes, done by
the test suite on a real cluster: the CRD applied, the namespace and its Secrets made, the chart
installed with helm-python-sdk with the images built from this checkout — and the fakes the pods
talk to (Telegram, KIE.AI, S3 on moto, PostgreSQL) on the host, reached through `hostNetwork`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import psycopg
from kubernetes import client

from tests.fakes.kie import API_KEY as KIE_KEY
from tests.fakes.kie import FakeKie
from tests.fakes.telegram import Call, FakeTelegram
from tests.kube import infra, kit

T = TypeVar("T")
CHART = kit.ROOT / "charts" / "vidgen"
RELEASE = "vidgen"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CAT = (kit.ROOT / "examples" / "cat.jpg").read_bytes()

#: Quick timings for the test (everything else is the chart's default).
FAST = {
    "ADMISSION_INTERVAL_SECONDS": "0.5",
    "RESYNC_INTERVAL_SECONDS": "2",
    "KIE_POLL_INTERVAL_SECONDS": "0.2",
    "KIE_POLL_MAX_INTERVAL_SECONDS": "1",
    "RETRY_BASE_DELAY_SECONDS": "0.5",
    "RETRY_MAX_DELAY_SECONDS": "2",
    "PROGRESS_MIN_INTERVAL_SECONDS": "0",
    "THROTTLE_SECONDS": "0",
    "DELIVERY_RETRY_DELAY_SECONDS": "0.1",
    "OUTBOX_SWEEP_INTERVAL_SECONDS": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Fakes:
    """Fake Telegram and KIE.AI on the host's loopback (an event loop in a thread of their own),
    and moto's S3 server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fakes", daemon=True)
        self.thread.start()
        self.tg: FakeTelegram = self.call(self._make(FakeTelegram))
        self.kie: FakeKie = self.call(self._make(FakeKie, generation_seconds=0.5))
        from moto.server import ThreadedMotoServer

        self.s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.s3.start()
        host, port = self.s3.get_host_and_port()
        self.s3_url = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).create_bucket(Bucket="vidgen")

    @staticmethod
    async def _make(cls: type[T], **kwargs: Any) -> T:
        server = cls(**kwargs)
        return await server.start()  # type: ignore[attr-defined,no-any-return]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def push(self, update: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.tg.push_update, update)

    def close(self) -> None:
        self.push(self.tg.text_update(1, "/noop"))  # answer a waiting long poll
        with contextlib.suppress(Exception):
            self.call(self.tg.stop())
        with contextlib.suppress(Exception):
            self.call(self.kie.stop())
        self.s3.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def buttons(call: Call) -> list[dict[str, Any]]:
    markup = call.json("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class User:
    """A Telegram user talking to the bot in the cluster (the bot polls the fake Bot API)."""

    fakes: Fakes
    user_id: int

    def calls(self, since: int = 0, method: str | None = None) -> list[Call]:
        return [
            c
            for c in list(self.fakes.tg.calls)[since:]
            if str(c.params.get("chat_id")) == str(self.user_id) and (method is None or c.method == method)
        ]

    def button(self, prefix: str, since: int) -> str | None:
        for call in reversed(self.calls(since)):
            for b in buttons(call):
                if str(b.get("callback_data", "")).startswith(prefix):
                    return str(b["callback_data"])
        return None

    def wait_button(self, prefix: str, since: int) -> str:
        return str(kit.wait(lambda: self.button(prefix, since), 120, f"a {prefix!r} button"))

    def request_video(self, prompt: str = "the cat waves at the camera", message_id: int = 500) -> None:
        """/start → photo → prompt → Continue → Confirm, as a user taps it."""
        tg = self.fakes.tg
        mark = len(tg.calls)
        self.fakes.push(tg.text_update(self.user_id, "/start"))
        kit.wait(lambda: self.calls(mark, "sendMessage"), 180, "the bot's welcome")
        mark = len(tg.calls)
        self.fakes.push(tg.photo_update(self.user_id, CAT))
        self.wait_button("prompt:", mark)
        mark = len(tg.calls)
        self.fakes.push(tg.text_update(self.user_id, prompt))
        self.fakes.push(
            tg.callback_update(self.user_id, self.wait_button("opt:next", mark), message_id=message_id)
        )
        confirm = self.wait_button("confirm:", mark)
        self.fakes.push(tg.callback_update(self.user_id, confirm, message_id=message_id))


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"vidgen_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return list(conn.execute(query, args).fetchall())


def secret(api: client.ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    """`kubectl create secret generic NAME --from-literal=KEY=VALUE …`"""
    client.CoreV1Api(api).create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
    )


def values(cluster: infra.Cluster, images: infra.Images, fakes: Fakes, namespace: str) -> dict[str, Any]:
    """The README's values.yaml, plus what this test cluster needs (hostNetwork, the fakes)."""
    small = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}
    return {
        "image": {"registry": images.registry, "tag": images.tag, "pullPolicy": "Never"},
        "crds": {"enabled": False},
        "secrets": {
            "telegram": {"existingSecret": "vidgen-telegram", "tokenKey": "token"},
            "kie": {"apiKey": KIE_KEY},
        },
        "postgresql": {"enabled": False},
        "externalDatabase": {"existingSecret": "vidgen-database", "urlKey": "url"},
        "storage": {
            "url": f"s3://vidgen/{namespace}",
            "s3": {"endpointUrl": fakes.s3_url, "accessKeyId": "test", "secretAccessKey": "test"},
            "persistence": {"enabled": False},
        },
        "config": {
            "telegramApiUrl": fakes.tg.url,
            "kieBaseUrl": fakes.kie.url,
            "kieUploadUrl": fakes.kie.url,
            "logFormat": "json",
            "extra": FAST,
        },
        "hostNetwork": {
            "enabled": True,
            "apiServerHost": cluster.api_host or "",
            "apiServerPort": cluster.api_port or "",
        },
        "operator": {"metricsPort": free_port(), "healthPort": free_port(), "resources": small},
        "bot": {"metricsPort": free_port(), "resources": small},
        "runner": {"cpuRequest": "10m", "memoryRequest": "64Mi"},
    }


def deployments_ready(api: client.ApiClient, namespace: str) -> bool:
    items = client.AppsV1Api(api).list_namespaced_deployment(namespace).items
    return bool(items) and all(
        (d.status.ready_replicas or 0) >= (d.spec.replicas or 0)
        and d.status.observed_generation == d.metadata.generation
        for d in items
    )


def describe_pods(cluster: infra.Cluster, namespace: str) -> str:
    """For a failure message: the pods and the recent logs of the operator and the bot."""
    out = [kit.kubectl(cluster, "get", "pods,jobs,vg", "-n", namespace, "-o", "wide", check=False).stdout]
    out.append(kit.kubectl(cluster, "get", "vg", "-n", namespace, "-o", "yaml", check=False).stdout[-3000:])
    for deploy in ("vidgen-operator", "vidgen-bot"):
        out.append(
            kit.kubectl(
                cluster,
                "logs",
                f"deploy/{deploy}",
                "-n",
                namespace,
                "--all-containers",
                "--tail=80",
                check=False,
            ).stdout
        )
    return "\n".join(out)[-20000:]
