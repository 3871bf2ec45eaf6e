"""The `VideoProvider` port: what the pipeline needs from a video generation service. Adapters:
`kie_provider.KieProvider` (KIE.AI over httpx) and `sandbox_provider.SandboxProvider` (offline,
ffmpeg). Errors are raised as `vidgen.core.errors.ProviderError` built by `classify_failure`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from vidgen.core.errors import Failure, ProviderError


@dataclass(frozen=True)
class VideoJob:
    """Everything a provider needs to make one video (the photo is already validated)."""

    name: str
    model: str
    prompt: str
    aspect_ratio: str
    duration_seconds: int
    photo: bytes
    photo_key: str
    photo_content_type: str
    photo_extension: str
    attempt: int = 1
    #: the model's resolution ("" = its default; the catalogue lists what each model takes)
    resolution: str = ""
    #: where KIE.AI should POST the result (the operator's callback endpoint); None = no callback
    callback_url: str | None = None


class TaskState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True)
class TaskStatus:
    state: TaskState
    video_url: str | None = None
    failure: Failure | None = None
    provider_state: str = ""


@runtime_checkable
class VideoProvider(Protocol):
    #: recorded in the checkpoint, so a resumed attempt only resumes its own provider's task
    name: str

    async def create_task(self, job: VideoJob) -> str:
        """Start a generation (this is what costs money) and return the provider's task id."""
        ...

    async def status(self, task_id: str, job: VideoJob) -> TaskStatus:
        """One look at the task; never waits for it to finish."""
        ...

    async def download(self, status: TaskStatus, job: VideoJob, dest: Path) -> None:
        """Write the finished video to `dest` (size-capped, type-checked)."""
        ...

    async def aclose(self) -> None: ...


def raise_failure(failure: Failure) -> None:
    raise ProviderError(failure.error_class, failure.code, failure.detail)
