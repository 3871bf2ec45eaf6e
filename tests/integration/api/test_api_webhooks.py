"""The webhook outbox: one message per settled generation and event, signed after Standard
Webhooks (verified here with the `standardwebhooks` library), retried on the configured delays
(the clock is injected; the receiver's answers are scripted by count), every attempt recorded,
given up when the delays run out, redelivered on request; and the signed ping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.webhook_receiver import WebhookReceiver
from vidgen.api.netguard import UrlPolicy
from vidgen.api.webhooks import FAILED, SUCCEEDED, WebhookDispatcher, WebhookSender
from vidgen.core.db.engine import transaction
from vidgen.core.db.models import Generation, WebhookAttempt, WebhookDelivery

from .conftest import Api


class Now:
    def __init__(self) -> None:
        self.value = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


def dispatcher(api: Api, now: Now) -> WebhookDispatcher:
    return WebhookDispatcher(
        api.settings,
        api.sessions,
        WebhookSender(5.0, UrlPolicy(allow_loopback=True)),
        video_link=lambda name, key: f"https://links.test/{name}",
        clock=now,
    )


async def settle(
    api: Api, name: str, phase: str, *, refunded: bool = False, finished: datetime | None = None
) -> None:
    async with transaction(api.sessions) as session:
        await session.execute(
            update(Generation)
            .where(Generation.name == name)
            .values(
                phase=phase,
                refunded=refunded,
                finished_at=finished or datetime.now(UTC),
                video_key=f"outputs/{name}.mp4" if phase == "Delivered" else None,
                video_bytes=1234 if phase == "Delivered" else None,
                error_class="BILLING" if phase == "Failed" else None,
                error_code="insufficient_credits" if phase == "Failed" else None,
            )
        )


async def attempts(api: Api) -> list[WebhookAttempt]:
    async with api.sessions() as session:
        return list((await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))).all())


async def delivery(api: Api) -> WebhookDelivery:
    async with api.sessions() as session:
        [row] = (await session.scalars(select(WebhookDelivery))).all()
        return row


async def test_a_delivered_generation_sends_one_signed_webhook(api: Api, receiver: WebhookReceiver) -> None:
    key = await api.key(41)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    now = Now()
    d = dispatcher(api, now)
    assert (await d.run_once()).enqueued == 0  # not settled yet: nothing to send
    await settle(api, gen, "Delivered")
    report = await d.run_once()
    assert report.enqueued == 1 and report.delivered == 1
    assert (await d.run_once()).enqueued == 0  # once per generation and event
    [got] = receiver.received
    payload = Webhook(key.webhook_secret).verify(got.body, got.headers)
    assert payload["type"] == SUCCEEDED
    assert payload["data"]["id"] == gen and payload["data"]["video"]["url"] == f"https://links.test/{gen}"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(got.body, got.headers)  # another secret does not verify
    row = await delivery(api)
    assert row.state == "delivered" and row.attempts == 1 and got.headers["webhook-id"] == row.msg_id
    [attempt] = await attempts(api)
    assert attempt.status == 200 and attempt.attempt == 1


async def test_refusals_are_retried_on_the_delays_with_the_same_id_then_delivered(
    api: Api, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 503]
    key = await api.key(42)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    await settle(api, gen, "Delivered")
    now = Now()
    d = dispatcher(api, now)
    assert (await d.run_once()).retried == 1
    now.advance(4.9)
    assert (await d.send_due()).retried == 0 and len(receiver.received) == 1  # not due yet
    now.advance(0.2)
    assert (await d.send_due()).retried == 1  # after 5 s
    now.advance(59)
    assert len(receiver.received) == 2
    now.advance(1.1)
    assert (await d.send_due()).delivered == 1  # after 60 s more
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for r in receiver.received:
        Webhook(key.webhook_secret).verify(r.body, r.headers)
    assert [(a.attempt, a.status) for a in await attempts(api)] == [(1, 500), (2, 503), (3, 200)]


async def test_it_gives_up_after_the_delays_and_a_redelivery_starts_again(
    api: Api, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 500, 500]
    key = await api.key(43)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    await settle(api, gen, "Delivered")
    now = Now()
    d = dispatcher(api, now)
    await d.run_once()
    now.advance(5)
    await d.send_due()
    now.advance(60)
    assert (await d.send_due()).given_up == 1
    now.advance(100_000)
    assert (await d.send_due()).retried == 0 and len(receiver.received) == 3
    row = await delivery(api)
    assert row.state == "failed" and row.last_status == 500
    auth = {"Authorization": f"Bearer {key.key}"}
    listed = (await api.client.get("/v1/webhooks/deliveries", headers=auth)).json()["data"]
    assert listed[0]["state"] == "failed" and [a["status"] for a in listed[0]["attempts"]] == [500] * 3
    other = await api.key(44)
    refused = await api.client.post(
        f"/v1/webhooks/deliveries/{row.id}/redeliver", headers={"Authorization": f"Bearer {other.key}"}
    )
    assert refused.status_code == 404
    api.ctx.dispatcher.clock = now
    response = await api.client.post(f"/v1/webhooks/deliveries/{row.id}/redeliver", headers=auth)
    assert response.status_code == 202
    assert (await d.send_due()).delivered == 1
    assert (await delivery(api)).state == "delivered"
    assert [a.attempt for a in await attempts(api)] == [1, 2, 3, 4]


async def test_a_failed_generation_waits_for_its_refund(api: Api, receiver: WebhookReceiver) -> None:
    key = await api.key(45)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    now = Now()
    await settle(api, gen, "Failed", refunded=False, finished=now.value)
    d = dispatcher(api, now)
    assert (await d.run_once()).enqueued == 0
    await settle(api, gen, "Failed", refunded=True, finished=now.value)
    assert (await d.run_once()).delivered == 1
    payload = Webhook(key.webhook_secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert payload["type"] == FAILED and payload["data"]["refunded"] is True
    assert payload["data"]["error"]["class"] == "BILLING"


async def test_a_failed_generation_with_nothing_refunded_is_sent_after_the_grace(
    api: Api, receiver: WebhookReceiver
) -> None:
    key = await api.key(46)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    now = Now()
    await settle(api, gen, "Failed", refunded=False, finished=now.value)
    d = dispatcher(api, now)
    assert (await d.run_once()).enqueued == 0
    now.advance(api.settings.webhook_failed_grace_seconds + 1)
    assert (await d.run_once()).enqueued == 1


async def test_two_dispatchers_send_a_message_once(api: Api, receiver: WebhookReceiver) -> None:
    key = await api.key(47)
    gen = (await api.post(key.key, webhook_url=receiver.url)).json()["id"]
    await settle(api, gen, "Delivered")
    now = Now()
    first, second = dispatcher(api, now), dispatcher(api, now)
    await asyncio.gather(first.enqueue(), second.enqueue())
    reports = await asyncio.gather(first.send_due(), second.send_due())
    assert sum(r.delivered for r in reports) == 1 and len(receiver.received) == 1


async def test_no_webhook_url_no_message(api: Api, receiver: WebhookReceiver) -> None:
    key = await api.key(48)
    gen = (await api.post(key.key)).json()["id"]
    await settle(api, gen, "Delivered")
    assert (await dispatcher(api, Now()).run_once()).enqueued == 0


async def test_the_ping_is_signed_and_private_targets_are_refused(
    api: Api, receiver: WebhookReceiver
) -> None:
    key = await api.key(49)
    auth = {"Authorization": f"Bearer {key.key}"}
    response = await api.client.post("/v1/webhooks/test", json={"url": receiver.url}, headers=auth)
    assert response.json() == {"delivered": True, "status": 200, "error": None}
    payload = Webhook(key.webhook_secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert payload["type"] == "webhook.test"
    refused = await api.client.post("/v1/webhooks/test", json={"url": "http://10.1.2.3/x"}, headers=auth)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
