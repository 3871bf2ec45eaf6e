"""Create video: accept a photo, check a prompt, build the spec, and confirm it.

Confirm is one transaction (`vidgen.core.db.generations.create_request`: debit + generation row +
outbox row + event), idempotent on the generation name. The name comes from a request token
chosen when the photo arrives and kept in the conversation state, so a double tap or a replayed
update finds the same name and debits once. The launch happens after the commit; if it fails
(or the process dies first), the outbox row stays and the sweeper launches or refunds it.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core import styles
from vidgen.core.catalogue import DEFAULT_MODEL, MODELS
from vidgen.core.db import events, generations, requests, sqla_ledger
from vidgen.core.errors import InputError
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.ports import GenerationLauncher, Storage
from vidgen.core.settings import Settings
from vidgen.core.styles import DEFAULT_STYLE
from vidgen.storage import StorageKeyError
from vidgen.storage.photos import normalise_image

from ..metrics import GENERATIONS_REQUESTED

log = get_logger(__name__)

IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp"})
ASPECT_RATIOS = ("portrait", "landscape")


@dataclass(frozen=True)
class Media:
    """The photo in a message: a Telegram file id and its announced size."""

    file_id: str
    file_size: int | None
    source: str  # photo | document


def media_of(message: Message) -> Media:
    """The image a message carries, or InputError naming what is wrong with it."""
    if message.photo:
        largest = message.photo[-1]
        return Media(largest.file_id, largest.file_size, "photo")
    if message.document is not None:
        mime = (message.document.mime_type or "").lower()
        if mime in IMAGE_MIME_TYPES:
            return Media(message.document.file_id, message.document.file_size, "document")
        raise InputError("unsupported_document", mime or "unknown")
    raise InputError("not_a_photo", str(message.content_type))


@dataclass(frozen=True)
class Draft:
    """A request being put together; lives in the FSM data (JSON-friendly)."""

    token: str
    name: str
    photo: str
    prompt: str = ""
    model: str = DEFAULT_MODEL
    aspect_ratio: str = "portrait"
    #: The clip's length in seconds (0 = the model's default), from the model catalogue.
    duration: int = 0
    #: The style preset (core/styles.py).
    style: str = DEFAULT_STYLE
    #: An album: its media_group_id, the further photos as (name, photo key) in arrival order
    #: (one video each), and the id of the screen message edited as they arrive.
    album: str = ""
    more: tuple[tuple[str, str], ...] = ()
    screen: int = 0

    @property
    def count(self) -> int:
        """How many videos this draft makes (one per photo)."""
        return 1 + len(self.more)

    def items(self) -> list[tuple[str, str]]:
        """(generation name, photo key) of every video, the first one first."""
        return [(self.name, self.photo), *self.more]

    def add_photo(self, name: str, photo: str) -> Draft:
        return replace(self, more=(*self.more, (name, photo)))

    def first(self, count: int) -> Draft:
        """The same draft keeping only its first `count` photos ("make fewer")."""
        return replace(self, more=self.more[: max(0, count - 1)])

    def to_data(self) -> dict[str, Any]:
        return {"draft": asdict(self)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Draft | None:
        raw = data.get("draft")
        if not isinstance(raw, dict):
            return None
        try:
            draft = cls(**raw)
        except TypeError:
            return None
        # JSON (Redis) turns the tuples into lists.
        return replace(draft, more=tuple((str(n), str(p)) for n, p in draft.more))

    @property
    def seconds(self) -> int:
        """The clip's length: the chosen one, else the model's default."""
        info = MODELS.get(self.model)
        if info is None:
            return self.duration
        return self.duration if self.duration in info.durations else info.default_duration

    def with_option(self, field: str, value: str) -> Draft:
        if field == "model":
            if value not in MODELS:
                raise InputError("unknown_model", value)
            aspect = self.aspect_ratio if self.aspect_ratio in MODELS[value].aspect_ratios else "portrait"
            duration = self.duration if self.duration in MODELS[value].durations else 0
            return replace(self, model=value, aspect_ratio=aspect, duration=duration)
        if field == "style":
            return replace(self, style=styles.style(value).id)
        if field == "duration":
            if (
                not value.isdigit()
                or self.model not in MODELS
                or int(value) not in MODELS[self.model].durations
            ):
                raise InputError("bad_duration", value)
            return replace(self, duration=int(value))
        if field == "aspect":
            if value not in MODELS[self.model].aspect_ratios:
                raise InputError("bad_aspect_ratio", value)
            return replace(self, aspect_ratio=value)
        raise InputError("bad_option", field)


def _new_token() -> str:
    return uuid.uuid4().hex[:16]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GenerationService:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        launcher: GenerationLauncher,
        *,
        new_token: Callable[[], str] = _new_token,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.launcher = launcher
        self.new_token = new_token
        self.clock = clock

    @property
    def cost(self) -> int:
        """The price of the default video (the default model at its default length)."""
        return int(self.settings.credits_per_video) * MODELS[DEFAULT_MODEL].price()

    def price(self, draft: Draft) -> int:
        """Credits for one video of this draft: the catalogue's price for its model and length,
        scaled by `credits_per_video`."""
        info = MODELS.get(draft.model)
        if info is None:
            raise InputError("unknown_model", draft.model)
        return int(self.settings.credits_per_video) * info.price(draft.seconds)

    # --- photo ------------------------------------------------------------------------------

    def check_size(self, size: int | None) -> None:
        if size is not None and size > self.settings.max_photo_bytes:
            raise InputError("photo_too_large", str(size))

    async def receive_photo(self, bot: Bot, session: AsyncSession, user_id: int, media: Media) -> Draft:
        """Download the photo (after checking its announced size), store it as JPEG under the new
        request's name, and record the event. Nothing is charged here."""
        token, name, key = await self.store_photo(bot, session, user_id, media)
        return Draft(token=token, name=name, photo=key)

    async def store_photo(
        self, bot: Bot, session: AsyncSession, user_id: int, media: Media
    ) -> tuple[str, str, str]:
        """(token, generation name, photo key) of a newly stored photo."""
        self.check_size(media.file_size)
        token = self.new_token()
        name = generation_name(user_id, token)
        buffer = io.BytesIO()
        await bot.download(media.file_id, destination=buffer)
        data = buffer.getvalue()
        self.check_size(len(data))
        jpeg = await asyncio.to_thread(normalise_image, data)
        key = photo_key(name)
        await asyncio.to_thread(self.storage.put, key, jpeg, "image/jpeg")
        await events.record(
            session,
            events.PHOTO_RECEIVED,
            user_id=user_id,
            generation=name,
            source=media.source,
            bytes=len(data),
        )
        log.info("photo stored", generation=name, bytes=len(jpeg))
        return token, name, key

    def check_prompt(self, text: str | None) -> str:
        prompt = (text or "").strip()
        if len(prompt) > self.settings.max_prompt_chars:
            raise InputError("prompt_too_long", str(len(prompt)))
        return prompt

    async def again(self, session: AsyncSession, user_id: int, name: str) -> Draft:
        """A new draft with a delivered generation's photo and prompt (a new name, a new debit
        on confirm). Only the generation's owner may repeat it."""
        previous = await generations.get(session, name)
        if previous is None or previous.user_id != user_id:
            raise InputError("unknown_generation", name)
        token = self.new_token()
        new_name = generation_name(user_id, token)
        try:
            data = await asyncio.to_thread(self.storage.get, previous.photo_key)
        except StorageKeyError:
            raise InputError("photo_gone", previous.photo_key) from None
        key = photo_key(new_name)
        await asyncio.to_thread(self.storage.put, key, data, "image/jpeg")
        model = previous.model if previous.model in MODELS else DEFAULT_MODEL
        aspect = previous.aspect_ratio if previous.aspect_ratio in ASPECT_RATIOS else "portrait"
        duration = previous.duration_seconds if previous.duration_seconds in MODELS[model].durations else 0
        return Draft(
            token, new_name, key, prompt=previous.prompt, model=model, aspect_ratio=aspect, duration=duration
        )

    # --- confirm ----------------------------------------------------------------------------

    def spec_for(
        self,
        draft: Draft,
        *,
        user_id: int,
        chat_id: int,
        status_message_id: int | None,
        language: str,
        item: tuple[str, str] | None = None,
    ) -> GenerationSpec:
        info = MODELS.get(draft.model)
        if info is None:
            raise InputError("unknown_model", draft.model)
        name, photo = item or (draft.name, draft.photo)
        prompt = styles.style(draft.style).apply(draft.prompt)
        if len(prompt) > self.settings.max_prompt_chars:
            raise InputError("style_too_long", str(len(prompt)))
        spec = GenerationSpec(
            name=name,
            user_id=user_id,
            chat_id=chat_id,
            photo=photo,
            prompt=prompt,
            model=draft.model,
            aspect_ratio=draft.aspect_ratio,
            duration_seconds=draft.seconds,
            status_message_id=status_message_id,
            requested_at=self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            language=language if language in ("en", "ru") else "en",
        )
        return spec.validate(self.settings.max_prompt_chars)

    async def request(self, session: AsyncSession, spec: GenerationSpec, cost: int) -> tuple[int, bool]:
        """Debit `cost` + generation row + outbox row + event in one transaction, once per name
        (`core.db.requests.request`). Launch next."""
        balance, created = await requests.request(session, spec, cost)
        if created:
            GENERATIONS_REQUESTED.inc()
        return balance, created

    async def request_batch(
        self, session: AsyncSession, specs: list[GenerationSpec], cost: int
    ) -> tuple[int, int]:
        """An album's videos: one debit per video, all or none, in one transaction. Returns
        (balance after, how many this call created)."""
        balance, created = await requests.request_many(session, specs, cost)
        GENERATIONS_REQUESTED.inc(created)
        return balance, created

    async def paid(self, session: AsyncSession, user_id: int, token: str) -> int | None:
        """The user's balance if the request of `token` was paid and not refunded (it is on its
        way), else None (never requested, or refunded)."""
        found = await generations.get(session, generation_name(user_id, token))
        if found is None or found.user_id != user_id or found.refunded:
            return None
        return await sqla_ledger.balance_of(session, user_id)

    async def launch(self, session: AsyncSession, spec: GenerationSpec) -> bool:
        return await requests.launch(session, self.launcher, spec)
