"""What the reconciler needs from the outside world, as Protocols. The kopf operator plugs in the
Kubernetes adapters (operator/k8s.py: the VideoGeneration API and Jobs); the local controller
plugs in its own (a database-backed store and a subprocess per attempt). Delivery and progress
are Telegram in both (operator/delivery.py, operator/progress.py); `vidgen generate` delivers to
a file and shows progress on the terminal instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from vidgen.core.lifecycle import JobOutcome

from .status import Generation

if TYPE_CHECKING:
    from .delivery import NotSent, Sent


class GenerationStore(Protocol):
    """Where generations and their status live (the VideoGeneration objects in a cluster)."""

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


class Delivery(Protocol):
    """Sends the finished video and the failure notice (TelegramDelivery in the bot's chat)."""

    async def send_video(
        self, chat_id: int, video_key: str, *, caption: str | None = None, reply_markup: Any = None
    ) -> Sent | NotSent:
        """One try at delivering the stored video `video_key`."""
        ...

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        """The user's failure notice; None when sent."""
        ...


class Progress(Protocol):
    """Shows each transition to the user (ProgressEditor edits the status message)."""

    async def show(self, chat_id: int, message_id: int | None, text: str, *, final: bool = False) -> None: ...
