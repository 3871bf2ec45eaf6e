"""Ports: the small Protocols each outside system is reached through, and their value types.
Adapters are named for their technology (file_storage, s3_storage, kie_provider, k8s, the
Telegram delivery, …) and live with the process that uses them; they build their own
technology's objects from these types. Tests swap in fakes, local mode swaps in processes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .lifecycle import JobOutcome
from .models import GenerationSpec
from .status import Generation


@runtime_checkable
class Storage(Protocol):
    """Blob storage for photos, videos and checkpoints, addressed by key (`inputs/x.jpg`)."""

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def signed_url(self, key: str, expires_seconds: int = 3600) -> str | None:
        """A URL anyone can GET for a while, or None if the backend cannot make one."""
        ...


@runtime_checkable
class GenerationLauncher(Protocol):
    """Starts the lifecycle of a generation: creates the VideoGeneration (cluster mode) or hands
    it to the local controller (local mode). Must be idempotent on `spec.name`."""

    async def launch(self, spec: GenerationSpec) -> None: ...


class GenerationStore(Protocol):
    """Where generations and their status live (the VideoGeneration objects in a cluster, the
    generations table in local mode)."""

    async def get(self, name: str) -> Generation | None:
        """A fresh read (never a cache: decisions are made on what is really stored)."""
        ...

    async def list(self) -> list[Generation]: ...

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Generation | None:
        """Apply a JSON merge patch to the status (None deletes a key); None if it is gone."""
        ...

    async def record_event(
        self, gen: Generation, reason: str, message: str, *, warning: bool = False
    ) -> None:
        """An event for people (a Kubernetes Event; a log line elsewhere). Best effort."""
        ...


class Executor(Protocol):
    """Runs one attempt of a generation (a Job in a cluster; a process locally)."""

    async def start(self, gen: Generation, attempt: int) -> str:
        """Start attempt `attempt` and return its name. Idempotent: starting an attempt that
        already exists returns the same name and starts nothing new."""
        ...

    async def outcome(self, gen: Generation) -> JobOutcome:
        """The state (and result, once finished) of the attempt named in `gen.job_name`."""
        ...

    async def stop(self, gen: Generation) -> None:
        """Stop the current attempt if it still runs (the generation was deleted)."""
        ...


@dataclass(frozen=True)
class Button:
    """An inline button under a message: its label and its callback data (≤ 64 bytes)."""

    text: str
    data: str


@dataclass(frozen=True)
class Sent:
    """A video was delivered; `file_id` is the chat's copy of it."""

    file_id: str
    by_url: bool


@dataclass(frozen=True)
class NotSent:
    """A try failed: how long the chat asked to wait (`retry_after`, Telegram's 429) and whether
    another try could help at all (`permanent`: blocked, chat gone, file too big or missing)."""

    detail: str
    retry_after: float | None = None
    permanent: bool = False


class Delivery(Protocol):
    """Sends the finished video and the failure notice (Telegram in the bot's chat; a file in
    `vidgen generate`)."""

    async def send_video(
        self, chat_id: int, video_key: str, *, caption: str | None = None, buttons: Sequence[Button] = ()
    ) -> Sent | NotSent:
        """One try at delivering the stored video `video_key`."""
        ...

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        """The user's failure notice; None when sent."""
        ...


class Progress(Protocol):
    """Shows each transition to the user (the status message in Telegram; a terminal line)."""

    async def show(self, chat_id: int, message_id: int | None, text: str, *, final: bool = False) -> None: ...


def delivery_wait(attempt: int, failure: NotSent, base: float, cap: float) -> float:
    """Seconds before the next try: the chat's retry_after when it gave one (capped), else a
    linear backoff (base, 2·base, …)."""
    if failure.retry_after is not None:
        return min(cap, max(0.0, failure.retry_after))
    return min(cap, base * max(1, attempt))
