"""Webhooks, after the Standard Webhooks specification: `webhook-id`, `webhook-timestamp` and
`webhook-signature` (`v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, with the key's `whsec_`
secret), signed with the `standardwebhooks` library; receivers verify with it too.

Delivery is at-least-once from an outbox (`webhook_deliveries`), by a dispatcher that polls the
database — the operator and the local controller are not changed:
1. **enqueue**: a generation requested through the API with a `webhook_url` that has settled
   (Delivered, or Failed and refunded — or failed for `webhook_failed_grace_seconds` with nothing
   to refund) gets one row per event type (unique (generation, event type): a replay, or a second
   API replica, adds nothing);
2. **send**: a due row is claimed (a conditional update moves its next attempt past the send's
   timeout, so two dispatchers do not send it at once), POSTed, and the answer recorded as an
   attempt; a 2xx delivers it, anything else retries after `webhook_retry_delays_seconds`, and
   when those run out it is given up (a redelivery through the API starts it again).
The message (`webhook-id`) is the same on every attempt, so receivers can drop duplicates.
The clock is injected; nothing here sleeps except the dispatcher's poll loop."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from standardwebhooks.webhooks import Webhook

from vidgen.core.db.engine import SessionMaker, dialect_insert, transaction
from vidgen.core.db.models import ApiKey, ApiRequest, Generation, WebhookAttempt, WebhookDelivery
from vidgen.core.lifecycle import Phase
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings

from .netguard import UrlPolicy, UrlRefused, check_url

log = get_logger(__name__)

SUCCEEDED = "generation.succeeded"
FAILED = "generation.failed"
PING = "webhook.test"
PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "failed"
USER_AGENT = "vidgen-webhooks/1"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def message_id(generation: str, event_type: str) -> str:
    return "msg_" + hashlib.sha256(f"{generation}:{event_type}".encode()).hexdigest()[:32]


def sign(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers (and the content type) for `body`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None


class WebhookSender:
    """One signed POST; never raises for what the receiver (or the network) does."""

    def __init__(self, timeout: float, policy: UrlPolicy, transport: httpx.AsyncBaseTransport | None = None):
        self.timeout = timeout
        self.policy = policy
        self.transport = transport

    async def send(self, url: str, secret: str, msg_id: str, timestamp: datetime, body: str) -> SendResult:
        try:
            await check_url(url, self.policy)  # again at send time: names can change what they point to
        except UrlRefused as exc:
            return SendResult(False, None, f"refused: {exc}")
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, transport=self.transport
            ) as client:
                response = await client.post(
                    url, content=body.encode(), headers=sign(secret, msg_id, timestamp, body)
                )
        except httpx.HTTPError as exc:
            return SendResult(False, None, f"{type(exc).__name__}: {exc}"[:500])
        ok = 200 <= response.status_code < 300
        return SendResult(ok, response.status_code, None if ok else f"HTTP {response.status_code}")


def payload_for(gen: Generation, event_type: str, at: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": gen.name,
        "status": "succeeded" if event_type == SUCCEEDED else "failed",
        "model": gen.model,
        "cost": gen.cost,
        "refunded": bool(gen.refunded),
    }
    if event_type == FAILED:
        data["error"] = {"class": gen.error_class, "code": gen.error_code, "message": gen.error_message}
    else:
        data["video"] = {"bytes": gen.video_bytes, "duration_seconds": gen.video_duration}
    return {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data}


@dataclass
class Pass:
    enqueued: int = 0
    delivered: int = 0
    retried: int = 0
    given_up: int = 0


class WebhookDispatcher:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionMaker,
        sender: WebhookSender,
        *,
        video_link: Callable[[str, str], str] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.sender = sender
        self.video_link = video_link  # (name, video key) → a fresh signed link, added at send time
        self.clock = clock
        self.delays = list(settings.webhook_retry_delays_seconds)
        self.wake = asyncio.Event()

    # --- enqueue ------------------------------------------------------------------------------

    async def enqueue(self) -> int:
        now = self.clock()
        grace = now - timedelta(seconds=self.settings.webhook_failed_grace_seconds)
        settled = or_(
            Generation.phase == str(Phase.DELIVERED),
            (Generation.phase == str(Phase.FAILED))
            & (Generation.refunded.is_(True) | (Generation.finished_at <= grace)),
        )
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    select(Generation, ApiRequest)
                    .join(ApiRequest, ApiRequest.generation == Generation.name)
                    .outerjoin(WebhookDelivery, WebhookDelivery.generation == Generation.name)
                    .where(ApiRequest.webhook_url.is_not(None), WebhookDelivery.id.is_(None), settled)
                    .limit(200)
                )
            ).all()
            added = 0
            for gen, req in rows:
                event_type = SUCCEEDED if gen.phase == str(Phase.DELIVERED) else FAILED
                result = await session.execute(
                    dialect_insert(session)(WebhookDelivery)
                    .values(
                        msg_id=message_id(gen.name, event_type),
                        generation=gen.name,
                        event_type=event_type,
                        api_key_id=req.api_key_id,
                        url=req.webhook_url,
                        payload=payload_for(gen, event_type, now),
                        state=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["generation", "event_type"])
                )
                added += int(result.rowcount or 0)
        return added

    # --- send ---------------------------------------------------------------------------------

    async def _claim(self, delivery: WebhookDelivery, now: datetime) -> bool:
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        async with transaction(self.sessions) as session:
            result = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery.id,
                    WebhookDelivery.state == PENDING,
                    WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
                )
                .values(next_attempt_at=lease)
            )
            return bool(result.rowcount)

    async def _body(self, delivery: WebhookDelivery) -> str:
        payload = dict(delivery.payload)
        if delivery.event_type == SUCCEEDED and self.video_link is not None:
            async with self.sessions() as session:
                key = await session.scalar(
                    select(Generation.video_key).where(Generation.name == delivery.generation)
                )
            if key:
                data = dict(payload["data"])
                data["video"] = {**data.get("video", {}), "url": self.video_link(delivery.generation, key)}
                payload["data"] = data
        return json.dumps(payload, separators=(",", ":"))

    async def send_due(self, limit: int = 50) -> Pass:
        report = Pass()
        now = self.clock()
        async with self.sessions() as session:
            due = list(
                (
                    await session.scalars(
                        select(WebhookDelivery)
                        .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
                        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                        .limit(limit)
                    )
                ).all()
            )
        for delivery in due:
            if not await self._claim(delivery, now):
                continue
            await self._send_one(delivery, report)
        return report

    async def _send_one(self, delivery: WebhookDelivery, report: Pass) -> None:
        async with self.sessions() as session:
            secret = await session.scalar(
                select(ApiKey.webhook_secret).where(ApiKey.id == delivery.api_key_id)
            )
            tried = await session.scalar(
                select(func.count())
                .select_from(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery.id)
            )
        assert secret is not None
        body = await self._body(delivery)
        result = await self.sender.send(delivery.url, secret, delivery.msg_id, self.clock(), body)
        done = self.clock()
        attempts = delivery.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": result.status,
            "last_error": result.error,
        }
        if result.ok:
            values.update(state=DELIVERED, delivered_at=done, next_attempt_at=None)
            report.delivered += 1
        elif attempts > len(self.delays):
            values.update(state=GIVEN_UP, next_attempt_at=None)
            report.given_up += 1
        else:
            values.update(next_attempt_at=done + timedelta(seconds=self.delays[attempts - 1]))
            report.retried += 1
        async with transaction(self.sessions) as session:
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
            )
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempt=int(tried or 0) + 1,
                    status=result.status,
                    error=result.error,
                    at=done,
                )
            )
        log.info(
            "webhook sent" if result.ok else "webhook not accepted",
            generation=delivery.generation,
            webhook_id=delivery.msg_id,
            attempt=attempts,
            status=result.status,
            error=result.error,
            state=values.get("state", PENDING),
        )

    async def redeliver(self, delivery_id: int) -> None:
        """Send a delivery again now, with a fresh retry budget (same webhook-id)."""
        async with transaction(self.sessions) as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(state=PENDING, attempts=0, next_attempt_at=self.clock())
            )
        self.wake.set()

    async def run_once(self) -> Pass:
        enqueued = await self.enqueue()
        report = await self.send_due()
        report.enqueued = enqueued
        return report

    async def run(
        self, stop: asyncio.Event, on_pass: Callable[[Pass], Awaitable[None]] | None = None
    ) -> None:
        """Poll every `webhook_poll_seconds` (or when woken) until `stop` is set."""
        while not stop.is_set():
            try:
                report = await self.run_once()
                if on_pass is not None:
                    await on_pass(report)
            except Exception:
                log.exception("webhook dispatcher pass failed; the next one retries")
            self.wake.clear()
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())}
            _done, pending = await asyncio.wait(
                waiters, timeout=self.settings.webhook_poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()


async def send_ping(
    sender: WebhookSender, url: str, secret: str, clock: Callable[[], float] = time.time
) -> SendResult:
    """A signed `webhook.test` message to `url` (a new webhook-id each time)."""
    at = datetime.fromtimestamp(clock(), UTC)
    msg_id = "msg_ping_" + hashlib.sha256(f"{url}:{at.timestamp()}".encode()).hexdigest()[:24]
    body = json.dumps(
        {"type": PING, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": {"message": "ping"}},
        separators=(",", ":"),
    )
    return await sender.send(url, secret, msg_id, at, body)
