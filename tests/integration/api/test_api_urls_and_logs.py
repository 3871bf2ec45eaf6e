"""A photo by URL (multipart or JSON), refused when it points inside; and no key or webhook
secret ever reaches the logs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import structlog
from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.webhook_receiver import WebhookReceiver

from .conftest import CAT, Api


class PhotoServer(LoopbackServer):
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cat.jpg", lambda _: web.Response(body=CAT, content_type="image/jpeg"))
        app.router.add_get("/huge.jpg", lambda _: web.Response(body=b"\xff" * (10 * 1024 * 1024 + 1)))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def photos() -> AsyncIterator[PhotoServer]:
    async with PhotoServer() as server:
        yield server


async def test_a_photo_url_in_a_form_or_in_json(api: Api, photos: PhotoServer) -> None:
    key = await api.key(61, free_credits=3)
    form = await api.post(key.key, photo=None, photo_url=photos.url("/cat.jpg"), prompt="waves")
    assert form.status_code == 202, form.text
    as_json = await api.client.post(
        "/v1/generations",
        json={"photo_url": photos.url("/cat.jpg"), "prompt": "jumps", "model": "sora-2-image-to-video"},
        headers={"Authorization": f"Bearer {key.key}"},
    )
    assert as_json.status_code == 202, as_json.text
    assert [api.storage.get(s.photo) for s in api.launcher.launched] == [CAT, CAT]
    too_big = await api.post(key.key, photo=None, photo_url=photos.url("/huge.jpg"))
    assert too_big.status_code == 413
    missing = await api.post(key.key, photo=None, photo_url=photos.url("/nope.jpg"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "photo_url"
    inside = await api.post(key.key, photo=None, photo_url="http://10.0.0.8/cat.jpg")
    assert inside.status_code == 422 and inside.json()["type"] == "/problems/url-refused"
    both = await api.post(key.key, photo_url=photos.url("/cat.jpg"))
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "photo"
    assert await api.balance(61) == 1


async def test_no_key_or_secret_in_the_logs(api: Api) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from vidgen.api.netguard import UrlPolicy
    from vidgen.api.webhooks import WebhookDispatcher, WebhookSender
    from vidgen.core.db.engine import transaction
    from vidgen.core.db.models import Generation

    key = await api.key(62)
    with structlog.testing.capture_logs() as logs:
        async with WebhookReceiver() as receiver:
            gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
            await api.get("vgk_wrong_key", "/v1/balance")
            async with transaction(api.sessions) as session:
                await session.execute(
                    update(Generation)
                    .where(Generation.name == gen)
                    .values(phase="Delivered", video_key="outputs/x.mp4", finished_at=datetime.now(UTC))
                )
            dispatcher = WebhookDispatcher(
                api.settings, api.sessions, WebhookSender(5, UrlPolicy(allow_loopback=True))
            )
            assert (await dispatcher.run_once()).delivered == 1
    text = repr(logs)
    assert logs and "webhook sent" in text
    assert key.key not in text and key.key.split("_", 2)[2] not in text
    assert key.webhook_secret not in text and key.webhook_secret.removeprefix("whsec_") not in text
