"""Webhook mode (secret token checked, /healthz, /metrics), a conversation carried across two
Dispatcher instances through real Redis, and `serve()` in polling and webhook mode against the
fake Bot API."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import CAT, USER, Harness, RecordingLauncher, bot_settings, make_harness
from vidgen.bot.app import SECRET_HEADER, serve, webhook_app
from vidgen.bot.dispatcher import fsm_storage_for
from vidgen.core.db.engine import SessionMaker
from vidgen.core.texts import t
from vidgen.storage import FileStorage

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "s3cret-token"


async def _redis_available() -> bool:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    if not await _redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"vidgen-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def redis_storage(prefix: str) -> RedisStorage:
    return RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))


async def post(server: TestServer, update: dict[str, Any], secret: str | None) -> aiohttp.ClientResponse:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.make_url("/webhook"), json=update, headers=headers) as response:
            await response.read()
            return response


@pytest.fixture
async def replicas(
    tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path, redis_prefix: str
) -> AsyncIterator[tuple[Harness, TestServer, TestServer]]:
    """Two webhook replicas: two Dispatchers, each with its own RedisStorage client on the same
    Redis, the same database, storage and launcher."""
    settings = bot_settings(webhook_secret=SECRET, redis_url=REDIS_URL)
    launcher = RecordingLauncher()
    first = make_harness(
        tg,
        pg_sessions,
        tmp_path,
        settings=settings,
        launcher=launcher,
        fsm_storage=redis_storage(redis_prefix),
    )
    second = make_harness(
        tg,
        pg_sessions,
        tmp_path,
        settings=settings,
        launcher=launcher,
        fsm_storage=redis_storage(redis_prefix),
    )
    servers = [
        TestServer(webhook_app(settings, h.dp, h.bot, sessions=pg_sessions, handle_in_background=False))
        for h in (first, second)
    ]
    for server in servers:
        await server.start_server()
    try:
        yield first, servers[0], servers[1]
    finally:
        for server in servers:
            await server.close()  # the dispatcher's shutdown closes its Redis client
        await first.bot.session.close()
        await second.bot.session.close()


async def test_webhook_refuses_requests_without_the_secret_token(
    replicas: tuple[Harness, TestServer, TestServer],
) -> None:
    h, server, _ = replicas
    update = h.stamp(h.tg.text_update(USER, "/start"))
    assert (await post(server, update, None)).status == 401
    assert (await post(server, update, "wrong")).status == 401
    assert h.tg.calls_to("sendMessage") == []
    response = await post(server, update, SECRET)
    assert response.status == 200
    assert h.texts(USER)[-1] == t("menu.text", "en", balance=2)
    assert await h.balance(USER) == 2


async def test_a_conversation_continues_on_another_replica_through_redis(
    replicas: tuple[Harness, TestServer, TestServer],
) -> None:
    h, one, two = replicas
    await post(one, h.stamp(h.tg.text_update(USER, "/start")), SECRET)
    await post(two, h.stamp(h.tg.photo_update(USER, CAT)), SECRET)  # state: waiting for a prompt
    await post(one, h.stamp(h.tg.text_update(USER, "a cat on a skateboard")), SECRET)
    await post(two, h.stamp(h.tg.callback_update(USER, h.button(USER, "opt:aspect:landscape"), 70)), SECRET)
    await post(one, h.stamp(h.tg.callback_update(USER, h.button(USER, "opt:next"), 70)), SECRET)
    confirm = h.button(USER, "confirm:")
    await post(two, h.stamp(h.tg.callback_update(USER, confirm, 70)), SECRET)
    await post(one, h.stamp(h.tg.callback_update(USER, confirm, 70)), SECRET)  # a second tap elsewhere
    [spec] = h.launcher.specs
    assert (spec.prompt, spec.aspect_ratio, spec.status_message_id) == (
        "a cat on a skateboard",
        "landscape",
        70,
    )
    assert await h.balance(USER) == 1 and len(await h.entries(USER, "debit")) == 1


async def test_health_and_metrics_endpoints(replicas: tuple[Harness, TestServer, TestServer]) -> None:
    h, server, _ = replicas
    await post(server, h.stamp(h.tg.text_update(USER, "/start")), SECRET)
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/healthz")) as response:
            assert (response.status, await response.text()) == (200, "ok")
        async with http.get(server.make_url("/metrics")) as response:
            body = await response.text()
    assert 'vidgen_bot_updates_total{type="message"}' in body
    for name in (
        "vidgen_bot_update_duration_seconds_bucket",
        "vidgen_bot_errors_total",
        "vidgen_bot_payments_total",
        "vidgen_bot_generations_requested_total",
    ):
        assert name in body


def test_redis_storage_is_chosen_when_configured() -> None:
    assert isinstance(fsm_storage_for(bot_settings(redis_url=REDIS_URL)), RedisStorage)
    assert not isinstance(fsm_storage_for(bot_settings()), RedisStorage)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_in_polling_mode(tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path) -> None:
    settings = bot_settings(
        telegram_api_url=tg.url, metrics_port=free_port(), outbox_sweep_interval_seconds=0.05
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            sessions=pg_sessions,
            storage=FileStorage(tmp_path),
            launcher=RecordingLauncher(),
            stop=stop,
            handle_signals=False,
        )
    )
    tg.push_update(tg.text_update(USER, "/start"))
    await tg.wait_for("sendMessage", 2)
    assert tg.sent_texts(USER)[-1] == t("menu.text", "en", balance=2)
    assert {c.params.get("language_code") for c in tg.calls_to("setMyCommands")} == {None, "ru"}
    assert tg.calls_to("deleteWebhook")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{settings.metrics_port}/metrics") as response:
            assert "vidgen_bot_updates_total" in await response.text()
    stop.set()
    await asyncio.wait_for(task, 15)
    tg.push_update(tg.text_update(USER, "/ping"))  # wakes the fake's pending long poll: quick teardown


async def test_serve_in_webhook_mode(tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path) -> None:
    port = free_port()
    settings = bot_settings(
        telegram_api_url=tg.url,
        bot_mode="webhook",
        webhook_url="https://bot.example.org",
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        webhook_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            sessions=pg_sessions,
            storage=FileStorage(tmp_path),
            launcher=RecordingLauncher(),
            stop=stop,
        )
    )
    [registered] = await tg.wait_for("setWebhook")
    assert registered.params["url"] == "https://bot.example.org/webhook"
    assert registered.params["secret_token"] == SECRET
    async with aiohttp.ClientSession() as http:
        update = {"update_id": 1, **tg.text_update(USER, "/start")}
        async with http.post(f"http://127.0.0.1:{port}/webhook", json=update) as response:
            assert response.status == 401
        async with http.post(
            f"http://127.0.0.1:{port}/webhook", json=update, headers={SECRET_HEADER: SECRET}
        ) as response:
            assert response.status == 200
    await tg.wait_for("sendMessage", 2)  # handled in the background
    stop.set()
    await asyncio.wait_for(task, 15)
