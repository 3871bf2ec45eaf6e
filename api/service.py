"""What the HTTP API does, on the shared database: the request transaction of
`vidgen.core.db.requests` (debit + generation row + outbox row + event, idempotent on the
generation's name) behind an Idempotency-Key, reads scoped to the caller's account, cancellation
through the launcher's counterpart, the balance and the ledger. No HTTP here: `app.py` maps it.

Idempotency: a request's generation name is derived from the account and its Idempotency-Key,
and the request is claimed first (`api_requests`, keyed by that name, with the body's
fingerprint). A retry with the same body finds the claim and completes or returns the same
generation — `request()` debits once per name, however many run at once; a different body
gets 409. Without a key every POST is a new generation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.catalogue import DEFAULT_MODEL, model_info
from vidgen.core.chatless import NO_CHAT
from vidgen.core.db import requests
from vidgen.core.db.engine import SessionMaker, dialect_insert, transaction
from vidgen.core.db.models import ApiRequest, CreditEntry, Generation, Outbox, WebhookAttempt, WebhookDelivery
from vidgen.core.db.sqla_ledger import balance_of
from vidgen.core.errors import InputError, InsufficientCredits
from vidgen.core.lifecycle import Phase
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.ports import GenerationLauncher, Storage
from vidgen.core.settings import Settings
from vidgen.core.status import CANCELLED_CODE

from .links import LinkSigner
from .netguard import UrlPolicy, UrlRefused, check_url
from .ports import GenerationCanceller
from .problems import Problem, field_problem

log = get_logger(__name__)

FIELDS = ("prompt", "model", "aspect_ratio", "duration_seconds", "resolution", "webhook_url", "photo_url")
MAX_IDEMPOTENCY_KEY = 255
STARTED = frozenset({Phase.RUNNING, Phase.GENERATED, Phase.DELIVERING})


@dataclass(frozen=True)
class Account:
    key_id: int
    user_id: int
    webhook_secret: str


@dataclass(frozen=True)
class GenerationInput:
    prompt: str
    model: str
    aspect_ratio: str
    duration_seconds: int
    resolution: str | None
    webhook_url: str | None
    photo_url: str | None
    cost: int


def api_status(phase: str, error_code: str | None) -> str:
    if phase in (Phase.PENDING, Phase.QUEUED):
        return "queued"
    if phase == Phase.DELIVERED:
        return "succeeded"
    if phase == Phase.FAILED:
        return "cancelled" if error_code == CANCELLED_CODE else "failed"
    return "processing"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_input(settings: Settings, fields: dict[str, Any]) -> GenerationInput:
    """The form's fields checked against the catalogue and the limits: a 422 naming the field."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise field_problem(unknown[0], f"unknown field (accepted: photo, {', '.join(FIELDS)})")
    prompt = str(fields.get("prompt") or "").strip()
    if len(prompt) > settings.max_prompt_chars:
        raise field_problem(
            "prompt", f"{len(prompt)} characters, at most {settings.max_prompt_chars}", "prompt-too-long"
        )
    model = str(fields.get("model") or settings.default_model or DEFAULT_MODEL)
    try:
        info = model_info(model)
    except InputError as exc:
        what = "is not offered" if exc.code == "disabled_model" else "is not a known model"
        raise field_problem("model", f"{model!r} {what}", "unknown-model") from None
    aspect = str(fields.get("aspect_ratio") or "portrait")
    raw_duration = fields.get("duration_seconds")
    try:
        duration = info.default_duration if raw_duration in (None, "") else int(raw_duration)
    except (TypeError, ValueError):
        raise field_problem("duration_seconds", f"{raw_duration!r} is not a whole number") from None
    resolution = str(fields["resolution"]) if fields.get("resolution") else None
    try:
        info.check(aspect, duration, resolution)
    except InputError as exc:
        field = {"bad_aspect_ratio": "aspect_ratio", "bad_duration": "duration_seconds"}.get(
            exc.code, "resolution"
        )
        accepted = {
            "aspect_ratio": info.aspect_ratios,
            "duration_seconds": info.durations,
            "resolution": [r for r in info.resolutions if r] or ["(none)"],
        }[field]
        raise field_problem(
            field, f"{exc.detail!r} is not offered by {model} (one of: {', '.join(map(str, accepted))})"
        ) from None
    webhook_url = str(fields["webhook_url"]) if fields.get("webhook_url") else None
    photo_url = str(fields["photo_url"]) if fields.get("photo_url") else None
    cost = info.price(duration, resolution) * settings.credits_per_video
    return GenerationInput(prompt, model, aspect, duration, resolution, webhook_url, photo_url, cost)


def fingerprint(data: GenerationInput, photo_digest: str) -> str:
    doc = {
        "photo": photo_digest,
        "prompt": data.prompt,
        "model": data.model,
        "aspect_ratio": data.aspect_ratio,
        "duration_seconds": data.duration_seconds,
        "resolution": data.resolution,
        "webhook_url": data.webhook_url,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def name_for(user_id: int, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(generation_name(user_id, uuid.uuid4().hex[:16]))
    digest = hashlib.sha256(f"{user_id}:{idempotency_key}".encode()).hexdigest()
    return str(generation_name(user_id, digest[:16]))


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        parts = []
    if len(parts) != count:
        raise Problem(400, "bad-cursor", "the cursor is not one this API returned")
    return parts


class ApiService:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionMaker,
        storage: Storage,
        launcher: GenerationLauncher,
        canceller: GenerationCanceller,
        links: LinkSigner,
        policy: UrlPolicy,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.storage = storage
        self.launcher = launcher
        self.canceller = canceller
        self.links = links
        self.policy = policy

    # --- create -------------------------------------------------------------------------------

    async def check_outgoing(self, field: str, url: str) -> None:
        try:
            await check_url(url, self.policy)
        except UrlRefused as exc:
            raise field_problem(field, str(exc), "url-refused") from None

    async def create(
        self,
        account: Account,
        fields: dict[str, Any],
        photo: bytes | None,
        idempotency_key: str | None,
        base_url: str,
    ) -> tuple[dict[str, Any], bool]:
        """(the generation, whether this was a replay of an earlier request). Problems for bad
        input, with nothing written or debited."""
        data = parse_input(self.settings, fields)
        if (photo is None) == (data.photo_url is None):
            raise field_problem("photo", "send exactly one of photo (a file) or photo_url")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise Problem(
                400, "bad-idempotency-key", f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} chars"
            )
        if photo is not None:
            self._check_photo_size(len(photo))
        if data.webhook_url is not None:
            await self.check_outgoing("webhook_url", data.webhook_url)
        digest = hashlib.sha256(photo).hexdigest() if photo is not None else f"url:{data.photo_url}"
        print_ = fingerprint(data, digest)
        name = name_for(account.user_id, idempotency_key)

        claimed = await self._claim(account, name, idempotency_key, print_, data.webhook_url)
        async with self.sessions() as session:
            exists = await session.scalar(select(Generation.name).where(Generation.name == name))
        if not claimed and exists:
            await self._launch_leftover(name)
            return await self.get(account, name, base_url), True
        if data.photo_url is not None:
            await self.check_outgoing("photo_url", data.photo_url)
            photo = await self._fetch_photo(data.photo_url)
        assert photo is not None
        jpeg = await asyncio.to_thread(self._normalise, photo)
        spec = GenerationSpec(
            name=name,
            user_id=account.user_id,
            chat_id=NO_CHAT,
            photo=photo_key(name),
            prompt=data.prompt,
            model=data.model,
            aspect_ratio=data.aspect_ratio,
            duration_seconds=data.duration_seconds,
            requested_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        await asyncio.to_thread(self.storage.put, spec.photo, jpeg, "image/jpeg")
        async with self.sessions() as session:
            try:
                _balance, created = await requests.request(session, spec, data.cost)
            except InsufficientCredits as exc:
                raise Problem(
                    402,
                    "insufficient-credits",
                    f"this generation costs {exc.needed} credits and the balance is {exc.balance}",
                    balance=exc.balance,
                    cost=exc.needed,
                ) from None
            if created:
                await requests.launch(session, self.launcher, spec)
        if not created:
            await self._launch_leftover(name)
        return await self.get(account, name, base_url), not claimed

    def _check_photo_size(self, size: int) -> None:
        if size > self.settings.max_photo_bytes:
            raise Problem(
                413,
                "photo-too-large",
                f"the photo is {size} bytes, at most {self.settings.max_photo_bytes} are accepted",
                errors=[{"field": "photo", "pointer": "#/photo", "detail": "too large"}],
            )

    def _normalise(self, data: bytes) -> bytes:
        from vidgen.storage.photos import normalise_image

        try:
            jpeg: bytes = normalise_image(data)
        except InputError:
            raise field_problem(
                "photo", "not a usable image (JPEG, PNG or WebP, at least 16×16)", "photo-invalid"
            ) from None
        return jpeg

    async def _fetch_photo(self, url: str) -> bytes:
        import httpx

        limit = self.settings.max_photo_bytes
        try:
            async with (
                httpx.AsyncClient(timeout=20.0, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise field_problem("photo_url", f"fetching it answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit():
                    self._check_photo_size(int(declared))
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        self._check_photo_size(size)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise field_problem("photo_url", f"cannot fetch it ({type(exc).__name__})") from None

    async def _claim(
        self, account: Account, name: str, idempotency_key: str | None, print_: str, webhook_url: str | None
    ) -> bool:
        """Claim `name` for this request; False if it was claimed before with the same body,
        409 if with another."""
        async with transaction(self.sessions) as session:
            inserted = (
                await session.execute(
                    dialect_insert(session)(ApiRequest)
                    .values(
                        generation=name,
                        user_id=account.user_id,
                        api_key_id=account.key_id,
                        idempotency_key=idempotency_key,
                        fingerprint=print_,
                        webhook_url=webhook_url,
                    )
                    .on_conflict_do_nothing(index_elements=["generation"])
                    .returning(ApiRequest.generation)
                )
            ).scalar_one_or_none()
            if inserted is not None:
                return True
            earlier = await session.scalar(
                select(ApiRequest.fingerprint).where(ApiRequest.generation == name)
            )
        if earlier != print_:
            raise Problem(
                409,
                "idempotency-key-reused",
                "this Idempotency-Key was used for a request with a different body",
            )
        return False

    async def _launch_leftover(self, name: str) -> None:
        """Launch a replayed request whose launch has not happened yet (idempotent)."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(Outbox).where(Outbox.generation == name, Outbox.processed_at.is_(None))
            )
            if row is not None:
                await requests.launch(session, self.launcher, GenerationSpec(**row.payload))

    async def sweep_launches(self, older_than: datetime) -> int:
        """Launch the API's requests left in the outbox (a crash after the commit). Returns how
        many were tried."""
        async with self.sessions() as session:
            names = list(
                (
                    await session.scalars(
                        select(Outbox.generation)
                        .join(ApiRequest, ApiRequest.generation == Outbox.generation)
                        .where(Outbox.processed_at.is_(None), Outbox.created_at <= older_than)
                        .limit(100)
                    )
                ).all()
            )
        for name in names:
            await self._launch_leftover(name)
        return len(names)

    # --- read ---------------------------------------------------------------------------------

    async def _own(self, session: AsyncSession, account: Account, name: str) -> tuple[Generation, ApiRequest]:
        row = (
            await session.execute(
                select(Generation, ApiRequest)
                .join(ApiRequest, ApiRequest.generation == Generation.name)
                .where(Generation.name == name, ApiRequest.user_id == account.user_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            raise Problem(404, "not-found", f"no generation {name!r} in this account")
        return row[0], row[1]

    def view(self, gen: Generation, req: ApiRequest, base_url: str) -> dict[str, Any]:
        error = None
        if gen.phase == Phase.FAILED and gen.error_code:
            error = {"class": gen.error_class, "code": gen.error_code, "message": gen.error_message}
        video = None
        if gen.phase == Phase.DELIVERED and gen.video_key:
            video = {**self.video_link(gen.name, gen.video_key, base_url)}
            video.update(bytes=gen.video_bytes, duration_seconds=gen.video_duration)
        return {
            "id": gen.name,
            "object": "generation",
            "status": api_status(gen.phase, gen.error_code),
            "phase": gen.phase,
            "model": gen.model,
            "prompt": gen.prompt,
            "aspect_ratio": gen.aspect_ratio,
            "duration_seconds": gen.duration_seconds,
            "cost": gen.cost,
            "refunded": bool(gen.refunded),
            "attempts": gen.attempts,
            "error": error,
            "video": video,
            "webhook_url": req.webhook_url,
            "created_at": _iso(gen.created_at),
            "finished_at": _iso(gen.finished_at),
        }

    def video_link(self, name: str, video_key: str, base_url: str) -> dict[str, Any]:
        ttl = self.settings.api_link_ttl_seconds
        url = self.storage.signed_url(video_key, expires_seconds=ttl)
        if url is not None:
            return {"url": url, "expires_at": _iso(datetime.fromtimestamp(self.links.clock() + ttl, UTC))}
        link = self.links.sign(self.settings.api_public_url or base_url, name)
        return {"url": link.url, "expires_at": _iso(datetime.fromtimestamp(link.expires_at, UTC))}

    async def get(self, account: Account, name: str, base_url: str) -> dict[str, Any]:
        async with self.sessions() as session:
            gen, req = await self._own(session, account, name)
            return self.view(gen, req, base_url)

    async def list(self, account: Account, limit: int, cursor: str | None, base_url: str) -> dict[str, Any]:
        query = (
            select(Generation, ApiRequest)
            .join(ApiRequest, ApiRequest.generation == Generation.name)
            .where(ApiRequest.user_id == account.user_id)
            .order_by(Generation.created_at.desc(), Generation.name.desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            created, name = decode_cursor(cursor, 2)
            try:
                when = datetime.fromisoformat(created)
            except ValueError:
                raise Problem(400, "bad-cursor", "the cursor is not one this API returned") from None
            query = query.where(tuple_(Generation.created_at, Generation.name) < tuple_(when, name))
        async with self.sessions() as session:
            rows: Sequence[Any] = (await session.execute(query)).all()
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1][0]
            next_cursor = encode_cursor(last.created_at.isoformat(), last.name)
        return {
            "object": "list",
            "data": [self.view(g, r, base_url) for g, r in page],
            "next_cursor": next_cursor,
        }

    async def video_key(self, name: str) -> str | None:
        async with self.sessions() as session:
            gen = await session.get(Generation, name)
            if gen is None or gen.phase != Phase.DELIVERED:
                return None
            return str(gen.video_key) if gen.video_key else None

    # --- cancel -------------------------------------------------------------------------------

    async def cancel(self, account: Account, name: str, base_url: str) -> dict[str, Any]:
        async with self.sessions() as session:
            gen, _req = await self._own(session, account, name)
            phase = gen.phase
        if phase in (Phase.DELIVERED, Phase.FAILED):
            raise Problem(409, "already-finished", f"{name} has already finished ({phase})")
        if phase in STARTED:
            raise Problem(
                409, "already-started", f"{name} is already being generated; it cannot be cancelled"
            )
        await self.canceller.cancel(name)
        log.info("generation cancelled through the API", generation=name, user_id=account.user_id)
        return await self.get(account, name, base_url)

    # --- money --------------------------------------------------------------------------------

    async def balance(self, account: Account) -> dict[str, Any]:
        async with self.sessions() as session:
            return {"object": "balance", "balance": await balance_of(session, account.user_id)}

    async def ledger(self, account: Account, limit: int, cursor: str | None) -> dict[str, Any]:
        query = (
            select(CreditEntry)
            .where(CreditEntry.user_id == account.user_id)
            .order_by(CreditEntry.id.desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            (before,) = decode_cursor(cursor, 1)
            if not before.isdigit():
                raise Problem(400, "bad-cursor", "the cursor is not one this API returned")
            query = query.where(CreditEntry.id < int(before))
        async with self.sessions() as session:
            rows = list((await session.scalars(query)).all())
        page = rows[:limit]
        return {
            "object": "list",
            "data": [
                {
                    "id": e.id,
                    "delta": e.delta,
                    "kind": e.kind,
                    "ref": e.ref,
                    "reason": e.reason,
                    "created_at": _iso(e.created_at),
                }
                for e in page
            ],
            "next_cursor": encode_cursor(str(page[-1].id)) if len(rows) > limit else None,
        }

    # --- webhook deliveries -------------------------------------------------------------------

    async def deliveries(self, account: Account, generation: str | None, limit: int) -> dict[str, Any]:
        query = (
            select(WebhookDelivery)
            .join(ApiRequest, ApiRequest.generation == WebhookDelivery.generation)
            .where(ApiRequest.user_id == account.user_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if generation is not None:
            query = query.where(WebhookDelivery.generation == generation)
        async with self.sessions() as session:
            rows = list((await session.scalars(query)).all())
            ids = [d.id for d in rows]
            attempts = (
                list(
                    (
                        await session.scalars(
                            select(WebhookAttempt)
                            .where(WebhookAttempt.delivery_id.in_(ids))
                            .order_by(WebhookAttempt.id)
                        )
                    ).all()
                )
                if ids
                else []
            )
        by_delivery: dict[int, list[dict[str, Any]]] = {}
        for a in attempts:
            by_delivery.setdefault(a.delivery_id, []).append(
                {"attempt": a.attempt, "status": a.status, "error": a.error, "at": _iso(a.at)}
            )
        return {
            "object": "list",
            "data": [
                {
                    "id": d.id,
                    "webhook_id": d.msg_id,
                    "generation": d.generation,
                    "type": d.event_type,
                    "url": d.url,
                    "state": d.state,
                    "attempts": by_delivery.get(d.id, []),
                    "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
                    "delivered_at": _iso(d.delivered_at),
                }
                for d in rows
            ],
        }

    async def own_delivery(self, account: Account, delivery_id: int) -> WebhookDelivery:
        async with self.sessions() as session:
            row = await session.scalar(
                select(WebhookDelivery)
                .join(ApiRequest, ApiRequest.generation == WebhookDelivery.generation)
                .where(and_(WebhookDelivery.id == delivery_id, ApiRequest.user_id == account.user_id))
            )
        if row is None:
            raise Problem(404, "not-found", f"no webhook delivery {delivery_id} in this account")
        return row
