"""`vidgen generate PHOTO`: one generation from the command line, through the same path as the
bot's — a request (debit + row + outbox, `GenerationService`), a launch, the local controller and
a runner subprocess per attempt, the reconciler's retries and refunds — with the video delivered
to a file instead of a Telegram chat, and a progress bar on the terminal.

It needs no account: the requests belong to a reserved local user (`LOCAL_USER_ID`, never a
Telegram id) who is granted, through the ledger (`admin_grant`, actor "local-cli"), just the
credits a request costs. Without a KIE.AI key the runner uses the sandbox provider.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from vidgen.core import ledger
from vidgen.core.catalogue import MODELS, model_info
from vidgen.core.db import events, requests, sqla_ledger
from vidgen.core.db.engine import SessionMaker, make_engine, make_sessionmaker, transaction
from vidgen.core.db.migrate import upgrade
from vidgen.core.db.users import ensure_user
from vidgen.core.errors import InputError
from vidgen.core.lifecycle import Phase
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.ports import Button, NotSent, Sent, Storage
from vidgen.core.settings import Settings
from vidgen.core.status import Generation, failure_message_key
from vidgen.storage import open_storage

from .controller import LocalController
from .launcher import LocalLauncher
from .store import Scope

log = get_logger(__name__)

#: The command line's user: never a Telegram id (those start at 1).
LOCAL_USER_ID = 0
LOCAL_ACTOR = "local-cli"
POLL_SECONDS = 0.2


def migrate(database_url: str) -> None:
    """Bring the database to the latest schema, without Alembic's chatter on the terminal."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(database_url)


class GenerateError(Exception):
    """Bad input for `vidgen generate` (one line for the user; nothing was charged)."""


@dataclass(frozen=True)
class Outcome:
    name: str
    phase: Phase
    video: Path | None = None
    message: str | None = None  # why it failed, for people
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.phase is Phase.DELIVERED and self.video is not None


# --- adapters ----------------------------------------------------------------------------------


class FileDelivery:
    """`Delivery` to a file: the stored video is copied to `out`; notices are kept for the end."""

    def __init__(self, storage: Storage, out: Path) -> None:
        self.storage = storage
        self.out = out
        self.notices: list[str] = []

    async def send_video(
        self, chat_id: int, video_key: str, *, caption: str | None = None, buttons: Sequence[Button] = ()
    ) -> Sent | NotSent:
        partial = self.out.with_name(f".{self.out.name}.partial")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self.storage.get_file, video_key, partial)
            os.replace(partial, self.out)
        except KeyError:
            return NotSent(f"video {video_key} is not in storage", permanent=True)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            return NotSent(f"cannot write {self.out}: {exc.strerror or exc}", permanent=True)
        label = str(self.out)
        return Sent(label if len(label) <= 255 else self.out.name, by_url=False)

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        self.notices.append(text)
        return None


class NoProgress:
    """`Progress` that shows nothing: the terminal's bar reads the status itself."""

    async def show(self, chat_id: int, message_id: int | None, text: str, *, final: bool = False) -> None:
        return None

    async def aclose(self) -> None:
        return None


class ProgressBar:
    """Phase and attempt on the terminal: one redrawn line on a TTY, else a line per change."""

    STEPS = (Phase.PENDING, Phase.QUEUED, Phase.RUNNING, Phase.GENERATED, Phase.DELIVERING, Phase.DELIVERED)
    SPINNER = "|/-\\"

    def __init__(self, stream: TextIO, *, tty: bool | None = None, width: int = 24) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.width = width
        self.started = time.monotonic()
        self._last = ""
        self._spins = 0

    @staticmethod
    def label(gen: Generation) -> str:
        phase = gen.phase
        error = gen.error
        if phase is Phase.QUEUED and gen.attempts and error is not None:
            return f"retrying: attempt {gen.attempts} failed ({error.error_class} {error.code})"
        if phase is Phase.QUEUED:
            position = gen.status.get("queuePosition")
            return f"queued (position {position})" if position else "queued"
        if phase is Phase.RUNNING:
            return f"generating (attempt {gen.attempts})"
        if phase is Phase.DELIVERING:
            return "saving the video"
        if phase is Phase.FAILED:
            return f"failed ({error.error_class} {error.code})" if error else "failed"
        return str(phase).lower()

    def update(self, gen: Generation) -> None:
        label = self.label(gen)
        elapsed = time.monotonic() - self.started
        if not self.tty:
            if label != self._last:
                self.stream.write(f"[{elapsed:6.1f}s] {label}\n")
                self.stream.flush()
            self._last = label
            return
        step = self.STEPS.index(gen.phase) if gen.phase in self.STEPS else len(self.STEPS) - 1
        filled = round(self.width * step / (len(self.STEPS) - 1))
        spin = " " if gen.settled else self.SPINNER[self._spins % len(self.SPINNER)]
        self._spins += 1
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {spin} {label}  {elapsed:5.1f}s\x1b[K")
        self.stream.flush()
        self._last = label

    def finish(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()


# --- the command ------------------------------------------------------------------------------


def read_photo(path: Path, max_bytes: int) -> bytes:
    """The photo as JPEG (what the bot stores), or GenerateError saying what is wrong."""
    from vidgen.runner.photo import validate_photo
    from vidgen.storage.photos import normalise_image

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GenerateError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GenerateError(f"{path}: a folder, not a photo") from None
    except OSError as exc:
        raise GenerateError(f"{path}: {exc.strerror or exc}") from None
    try:
        validate_photo(data, max_bytes)
        jpeg: bytes = normalise_image(data)
    except InputError as exc:
        raise GenerateError(f"{path}: {exc.detail or exc.code}") from None
    return jpeg


def build_spec(settings: Settings, name: str, prompt: str, model: str, aspect_ratio: str) -> GenerationSpec:
    try:
        info = model_info(model)
    except InputError as exc:
        what = "is switched off" if exc.code == "disabled_model" else "is not a model vidgen knows"
        raise GenerateError(f"{model!r} {what}; pick one of: {', '.join(MODELS)}") from None
    spec = GenerationSpec(
        name=name,
        user_id=LOCAL_USER_ID,
        chat_id=LOCAL_USER_ID,
        photo=photo_key(name),
        prompt=prompt.strip(),
        model=model,
        aspect_ratio=aspect_ratio,
        duration_seconds=info.durations[0],
        requested_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        language="en",
    )
    try:
        return spec.validate(settings.max_prompt_chars)
    except InputError as exc:
        raise GenerateError(f"{exc.code.replace('_', ' ')}: {exc.detail}") from None


async def fund(sessions: SessionMaker, cost: int, name: str) -> int:
    """The local user exists and holds at least `cost` credits (granted through the ledger, once
    per request). Returns the balance."""
    async with transaction(sessions) as session:
        await ensure_user(session, LOCAL_USER_ID, free_credits=0, first_name=LOCAL_ACTOR)
        balance = int(await sqla_ledger.balance_of(session, LOCAL_USER_ID))
        if balance >= cost:
            return balance
        entry = ledger.admin_grant(
            LOCAL_USER_ID, cost - balance, LOCAL_ACTOR, "vidgen generate", f"{LOCAL_ACTOR}:{name}"
        )
        balance, written = await sqla_ledger.apply(session, entry)
        if written:
            await events.record(
                session,
                events.CREDITS_GRANTED,
                user_id=LOCAL_USER_ID,
                amount=entry.delta,
                actor=entry.actor,
                reason=entry.reason,
            )
        return int(balance)


async def generate(
    settings: Settings,
    photo: Path,
    *,
    prompt: str = "",
    model: str | None = None,
    aspect_ratio: str = "portrait",
    out: Path | None = None,
    stream: TextIO = sys.stderr,
    cancel: asyncio.Event | None = None,
    tty: bool | None = None,
) -> Outcome:
    """Make one video from `photo` and copy it to `out` (default ./out/<name>.mp4). Bad input is
    a GenerateError before anything is written or charged."""
    jpeg = read_photo(photo, settings.max_photo_bytes)
    name = generation_name(LOCAL_USER_ID, uuid.uuid4().hex[:16])
    spec = build_spec(settings, name, prompt, model or settings.default_model, aspect_ratio)
    target = (out or Path("out") / f"{name}.mp4").expanduser().resolve()
    provider = "KIE.AI" if settings.secret("kie_api_key") else "the sandbox provider (no VIDGEN_KIE_API_KEY)"
    stream.write(f"vidgen generate: {photo} → {spec.model} with {provider}\n")
    stream.flush()
    await asyncio.to_thread(migrate, settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    storage = open_storage(settings)
    delivery = FileDelivery(storage, target)
    controller = LocalController(
        settings, sessions, delivery=delivery, progress=NoProgress(), scope=Scope(only=frozenset({name}))
    )
    bar = ProgressBar(stream, tty=tty)
    cancel = cancel or asyncio.Event()
    gen: Generation | None = None
    try:
        await asyncio.to_thread(storage.put, spec.photo, jpeg, "image/jpeg")
        await fund(sessions, settings.credits_per_video, name)
        await controller.start()
        async with sessions() as session:
            await requests.request(session, spec, int(settings.credits_per_video))
            await requests.launch(session, LocalLauncher(controller), spec)
        gen = await _follow(controller, name, bar, cancel)
        if gen is None or not gen.settled:  # cancelled: stop the runner, fail, refund
            await controller.cancel(name)
            gen = await controller.store.get(name)
    finally:
        bar.finish()
        await controller.stop()
        await engine.dispose()
    assert gen is not None
    if gen.phase is Phase.DELIVERED:
        return Outcome(name, gen.phase, video=target)
    error = gen.error
    reason = delivery.notices[-1] if delivery.notices else ""
    if error is not None:
        from vidgen.core.texts import t

        reason = reason or t(failure_message_key(error), "en")
        reason += f" [{error.error_class} {error.code}: {error.detail}]" if error.detail else ""
    return Outcome(name, gen.phase, message=reason, cancelled=cancel.is_set())


async def _follow(
    controller: LocalController, name: str, bar: ProgressBar, cancel: asyncio.Event
) -> Generation | None:
    """Show the generation's progress until it is settled or `cancel` is set."""
    gen = None
    while not cancel.is_set():
        gen = await controller.store.get(name)
        if gen is not None:
            bar.update(gen)
            if gen.settled:
                return gen
        try:
            await asyncio.wait_for(cancel.wait(), POLL_SECONDS)
        except TimeoutError:
            pass
    return gen
