"""The README's "Use the HTTP API" example, end to end in local mode: `vidgen local` with
VIDGEN_API_PORT and no Telegram token (the API alone, the sandbox provider), a key made with
`vidgen api-keys create`, the sample photo POSTed, the signed webhook received and verified with
`standardwebhooks`, the MP4 downloaded through the signed link — then the money: one debit, a
refund exactly when the generation failed; and a queued generation cancelled with DELETE."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e_local.kit import CAT, VIDGEN, books, local_env, local_settings, probe_mp4, until
from tests.fakes.webhook_receiver import WebhookReceiver
from vidgen.local.app import LocalRun, run_local

ACCOUNT = 5151


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.port = free_port()
        self.overrides = {"api_port": self.port, **overrides}
        self.settings = local_settings(tmp_path, **self.overrides)
        self.tmp_path = tmp_path
        self.lines: list[str] = []
        self.stop_event = asyncio.Event()
        self.started = asyncio.Event()
        self.task = asyncio.create_task(
            run_local(self.settings, self.stop_event, announce=self.lines.append, api_started=self.started)
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_started(self) -> None:
        await until(lambda: self.started.is_set() or self.task.done(), 30, "the API to listen")
        assert not self.task.done(), self.task.exception()

    def create_key(self) -> tuple[str, str]:
        """`vidgen api-keys create`, as the README says: the key and the webhook secret."""
        out = subprocess.run(
            [VIDGEN, "api-keys", "create", "--user-id", str(ACCOUNT), "--name", "readme"],
            env=local_env(self.tmp_path, **self.overrides),
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        key = re.search(r"API key:\s+(\S+)", out)
        secret = re.search(r"webhook secret:\s+(\S+)", out)
        assert key and secret, out
        return key.group(1), secret.group(1)

    async def stop(self) -> LocalRun:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


async def post_photo(client: httpx.AsyncClient, key: str, **fields: str) -> httpx.Response:
    return await client.post(
        "/v1/generations",
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": fields.pop("idem", "readme-1")},
        files={"photo": ("cat.jpg", CAT, "image/jpeg")},
        data={"prompt": "the cat waves at the camera", **fields},
    )


async def test_the_readme_example_signed_webhook_and_mp4_then_one_debit(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    running = Running(tmp_path)
    try:
        await running.wait_started()
        assert any("the HTTP API only" in line for line in running.lines)
        key, secret = running.create_key()
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            created = await post_photo(client, key, webhook_url=receiver.url)
            assert created.status_code == 202, created.text
            gen = created.json()["id"]
            replay = await post_photo(client, key, webhook_url=receiver.url)
            assert replay.json()["id"] == gen  # a retried POST: same generation

            hook = await asyncio.wait_for(receiver.arrived.get(), 60)
            payload = Webhook(secret).verify(hook.body, hook.headers)
            assert payload["type"] == "generation.succeeded" and payload["data"]["id"] == gen

            video = await client.get(payload["data"]["video"]["url"])
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            mp4 = tmp_path / "video.mp4"
            mp4.write_bytes(video.content)
            frames, seconds = probe_mp4(mp4)
            assert frames > 0 and seconds > 0

            auth = {"Authorization": f"Bearer {key}"}
            status = (await client.get(f"/v1/generations/{gen}", headers=auth)).json()
            assert status["status"] == "succeeded" and status["video"]["url"]
            redirect = await client.get(f"/v1/generations/{gen}/video", headers=auth)
            assert redirect.status_code == 307
            assert (await client.get("/v1/balance", headers=auth)).json()["balance"] == 1
    finally:
        await running.stop()

    ledger = await books(running.settings.database_url, ACCOUNT)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    assert len(receiver.received) == 1


async def test_a_failed_generation_is_refunded_and_its_webhook_says_so(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    running = Running(tmp_path, sandbox_failures="*:402:billing says no")
    try:
        await running.wait_started()
        key, secret = running.create_key()
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            created = await post_photo(client, key, webhook_url=receiver.url)
            assert created.status_code == 202, created.text
            hook = await asyncio.wait_for(receiver.arrived.get(), 60)
            payload = Webhook(secret).verify(hook.body, hook.headers)
            assert payload["type"] == "generation.failed"
            assert payload["data"]["refunded"] is True and payload["data"]["error"]["class"] == "BILLING"
    finally:
        await running.stop()
    ledger = await books(running.settings.database_url, ACCOUNT)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (2, 1, 1)


async def test_delete_cancels_a_queued_generation_and_refunds_it(tmp_path: Path) -> None:
    # one running per user: the second request waits in the queue while the first one runs
    running = Running(tmp_path, per_user_concurrency=1, sandbox_latency_seconds=30)
    try:
        await running.wait_started()
        key, _secret = running.create_key()
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            first = (await post_photo(client, key, idem="one")).json()["id"]
            await until(lambda: _status(client, first, auth, "processing"), 30, "the first generation to run")
            second = (await post_photo(client, key, idem="two")).json()["id"]
            await until(lambda: _status(client, second, auth, "queued"), 30, "the second to queue")
            cancelled = await client.delete(f"/v1/generations/{second}", headers=auth)
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled" and cancelled.json()["refunded"] is True
            again = await client.delete(f"/v1/generations/{second}", headers=auth)
            assert again.status_code == 409
            started = await client.delete(f"/v1/generations/{first}", headers=auth)
            assert started.status_code == 409 and started.json()["type"] == "/problems/already-started"
    finally:
        await running.stop()
    ledger = await books(running.settings.database_url, ACCOUNT)
    assert (ledger.debits, ledger.refunds) == (2, 1)


async def _status(client: httpx.AsyncClient, gen: str, auth: dict[str, str], want: str) -> bool:
    return bool((await client.get(f"/v1/generations/{gen}", headers=auth)).json()["status"] == want)


async def test_a_taken_port_stops_local_mode_with_one_line(tmp_path: Path) -> None:
    from vidgen.local.app import LocalModeError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = local_settings(tmp_path, api_port=port)
        with pytest.raises(LocalModeError, match=f"cannot listen on 127.0.0.1:{port}"):
            await asyncio.wait_for(run_local(settings, asyncio.Event(), announce=lambda _: None), 60)
