"""One attempt of one generation, start to finish:

    request checks → video already stored? done → photo checks → checkpoint? resume its task
    : (enhance prompt → create task → checkpoint) → poll with backoff until success, failure or
    the deadline → download → store `outputs/<name>.mp4` → result

`run_generation` never raises for provider or input errors: they become a failed RunnerResult
(class, code, detail) whose exit code tells success, retryable and final failure apart."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from vidgen.core.catalogue import DEFAULT_MODEL
from vidgen.core.errors import ErrorClass, Failure, InputError, ProviderError, classify_failure
from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec, video_key
from vidgen.core.ports import Storage
from vidgen.core.result import RunnerResult
from vidgen.core.settings import ConfigError, Settings
from vidgen.storage import StorageKeyError

from . import checkpoint
from .media import NotAVideo, looks_like_mp4, probe
from .openai_prompt import enhance_prompt
from .photo import Photo, validate_photo
from .provider import TaskState, TaskStatus, VideoJob, VideoProvider
from .rate_patience import RateLimitPatience

T = TypeVar("T")

#: Input problems that are not the user's doing: the photo the bot stored is gone, which means a
#: deployment problem (wrong bucket, wiped volume). Only USER_VIOLATION and BILLING are final,
#: and BILLING is the class for operator-side misconfiguration (refund now, alert).
NOT_THE_USERS = frozenset({"photo_missing", "missing_task_id"})
#: a provider's download answer for a result URL that is gone (403/404/410): fetch a fresh one
RESULT_URL_EXPIRED = "result_url_expired"
POLL_GROWTH = 1.5


@dataclass(frozen=True)
class RunRequest:
    name: str
    photo: str
    prompt: str = ""
    model: str = DEFAULT_MODEL
    aspect_ratio: str = "portrait"
    duration_seconds: int = 10
    attempt: int = 1
    resolution: str = ""
    #: KIE.AI's `callBackUrl` for this generation (submit mode; None = no callback)
    callback_url: str | None = None


class DeadlineTimeout(TimeoutError):
    """The provider did not finish the task in time (classified TEMPORARY, code "timeout")."""


def input_failure(error: InputError) -> Failure:
    cls = ErrorClass.BILLING if error.code in NOT_THE_USERS else ErrorClass.USER_VIOLATION
    return Failure(cls, error.code, error.detail)


def make_provider(
    settings: Settings, storage: Storage, patience: RateLimitPatience | None = None
) -> VideoProvider:
    """KIE.AI when a key is set, else the offline sandbox."""
    if settings.secret("kie_api_key"):
        from .kie_provider import KieProvider

        return KieProvider(settings, storage, patience=patience)
    from .sandbox_provider import SandboxProvider

    return SandboxProvider(settings)


async def run_generation(
    request: RunRequest,
    settings: Settings,
    storage: Storage,
    *,
    provider: VideoProvider | None = None,
    patience: RateLimitPatience | None = None,
) -> RunnerResult:
    """One whole attempt. `patience` (429 refusals of task creation, waited out within the
    attempt) is made from the settings unless given; a given `provider` should share it."""
    patience = patience or RateLimitPatience.from_settings(settings)
    attempt = _Attempt(request, settings, storage, provider, patience)
    return await as_result(request, patience, attempt.run)


async def as_result(
    request: RunRequest, patience: RateLimitPatience, step: Callable[[], Awaitable[RunnerResult]]
) -> RunnerResult:
    """Run one runner step (whole attempt, submit or collect) and turn every outcome into a
    RunnerResult: provider and input errors become failed results, never a trace."""
    with structlog.contextvars.bound_contextvars(generation=request.name, attempt=request.attempt):
        log = get_logger("vidgen.runner")
        started = time.monotonic()
        try:
            result = await step()
        except InputError as exc:
            result = RunnerResult.failed(input_failure(exc))
        except ProviderError as exc:
            result = RunnerResult.failed(Failure(exc.error_class, exc.code, exc.detail))
        except ConfigError as exc:
            result = RunnerResult.failed(Failure(ErrorClass.BILLING, "config", str(exc)))
        except Exception as exc:  # the last line of defence: a result, never a trace
            log.exception("runner_crashed")
            result = RunnerResult.failed(classify_failure(exception=exc, message=str(exc)[:300]))
        result = replace(result, rateLimitRetries=patience.retries)
        if result.is_submitted:
            log.info("task_submitted", task_id=result.taskId, rate_limit_retries=result.rateLimitRetries)
        elif result.ok:
            log.info(
                "generation_stored",
                video=result.video,
                bytes=result.bytes,
                seconds=round(time.monotonic() - started, 2),
            )
        else:
            log.warning(
                "generation_failed",
                error_class=str(result.error_class),
                code=result.code,
                detail=result.detail,
                exit_code=result.exit_code,
                rate_limit_retries=result.rateLimitRetries,
            )
        return result


class _Attempt:
    def __init__(
        self,
        request: RunRequest,
        settings: Settings,
        storage: Storage,
        provider: VideoProvider | None,
        patience: RateLimitPatience | None = None,
    ) -> None:
        self.request = request
        self.patience = patience or RateLimitPatience.from_settings(settings)
        self.settings = settings
        self.storage = storage
        self.provider = provider
        self.log = get_logger("vidgen.runner")

    # --- steps ---------------------------------------------------------------------------

    def check_request(self) -> None:
        req = self.request
        if req.attempt < 1:
            raise InputError("bad_attempt", str(req.attempt))
        if not req.photo:
            raise InputError("photo_missing", "no photo key given (--photo)")
        GenerationSpec(
            name=req.name,
            user_id=0,
            chat_id=0,
            photo=req.photo,
            prompt=req.prompt,
            model=req.model,
            aspect_ratio=req.aspect_ratio,
            duration_seconds=req.duration_seconds,
            resolution=req.resolution,
        ).validate(self.settings.max_prompt_chars)

    async def load_photo(self) -> Photo:
        try:
            data = await asyncio.to_thread(self.storage.get, self.request.photo)
        except StorageKeyError:
            raise InputError("photo_missing", f"no photo at {self.request.photo!r}") from None
        return validate_photo(data, self.settings.max_photo_bytes)

    async def already_stored(self, cp: checkpoint.Checkpoint | None) -> RunnerResult | None:
        key = video_key(self.request.name)
        if not await asyncio.to_thread(self.storage.exists, key):
            return None
        self.log.info("video_already_stored", video=key)
        if cp is not None and cp.result:
            return self._success(cp, int(cp.result["bytes"]), float(cp.result["duration"]))
        with tempfile.TemporaryDirectory(prefix="vidgen-") as tmp:
            path = Path(tmp) / "video.mp4"
            await asyncio.to_thread(self.storage.get_file, key, path)
            info = await asyncio.to_thread(probe, path)
            size = path.stat().st_size
        return RunnerResult.success(
            video=key,
            bytes=size,
            duration=info.duration,
            model=cp.model if cp else self.request.model,
            taskId=cp.task_id if cp else None,
            prompt=cp.prompt if cp else None,
            promptEnhanced=cp.prompt_enhanced if cp else None,
        )

    def _success(self, cp: checkpoint.Checkpoint, size: int, duration: float) -> RunnerResult:
        return RunnerResult.success(
            video=video_key(self.request.name),
            bytes=size,
            duration=duration,
            model=cp.model,
            taskId=cp.task_id,
            prompt=cp.prompt,
            promptEnhanced=cp.prompt_enhanced,
        )

    def job(self, photo: Photo, prompt: str) -> VideoJob:
        req = self.request
        return VideoJob(
            name=req.name,
            model=req.model,
            prompt=prompt,
            aspect_ratio=req.aspect_ratio,
            duration_seconds=req.duration_seconds,
            photo=photo.data,
            photo_key=req.photo,
            photo_content_type=photo.content_type,
            photo_extension=photo.extension,
            attempt=req.attempt,
            resolution=req.resolution,
            callback_url=req.callback_url,
        )

    def _resumable(self, cp: checkpoint.Checkpoint | None, provider: VideoProvider) -> bool:
        return cp is not None and cp.provider == provider.name and cp.model == self.request.model

    async def start_task(
        self, provider: VideoProvider, photo: Photo
    ) -> tuple[checkpoint.Checkpoint, VideoJob]:
        enhanced = await enhance_prompt(self.request.prompt, photo, self.settings)
        job = self.job(photo, enhanced.text)
        task_id = await provider.create_task(job)
        cp = checkpoint.Checkpoint(
            name=self.request.name,
            provider=provider.name,
            model=self.request.model,
            task_id=task_id,
            created_at=time.time(),
            prompt=enhanced.text,
            prompt_enhanced=enhanced.enhanced,
            attempt=self.request.attempt,
        )
        # before the first poll: a restart from here on resumes this task instead of paying again
        await asyncio.to_thread(checkpoint.save, self.storage, cp)
        self.log.info(
            "task_created", task_id=task_id, provider=provider.name, prompt_enhanced=enhanced.enhanced
        )
        return cp, job

    async def retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """Short network blips (and the provider's TEMPORARY answers) are retried, bounded."""

        def transient(exc: BaseException) -> bool:
            if isinstance(exc, ProviderError):
                return exc.error_class is ErrorClass.TEMPORARY
            return classify_failure(exception=exc).error_class is ErrorClass.TEMPORARY

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.settings.kie_poll_retries),
            wait=wait_exponential(multiplier=self.settings.kie_retry_wait_seconds, max=30),
            retry=retry_if_exception(transient),
            before_sleep=lambda state: self.log.warning(
                "provider_call_retry",
                tries=state.attempt_number,
                error=type(state.outcome.exception()).__name__ if state.outcome else "",
            ),
            reraise=True,
        ):
            with attempt:
                return await step()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def wait_for(self, provider: VideoProvider, cp: checkpoint.Checkpoint, job: VideoJob) -> TaskStatus:
        deadline = cp.created_at + self.settings.kie_deadline_seconds
        interval = self.settings.kie_poll_interval_seconds
        last_state = ""
        while True:
            status = await self.retrying(lambda: provider.status(cp.task_id, job))
            if status.provider_state != last_state:
                self.log.info("task_state", task_id=cp.task_id, state=status.provider_state)
                last_state = status.provider_state
            if status.state is not TaskState.PENDING:
                return status
            remaining = deadline - time.time()
            if remaining <= 0:
                raise DeadlineTimeout(
                    f"task {cp.task_id} not done {self.settings.kie_deadline_seconds:g} s after creation"
                )
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * POLL_GROWTH, self.settings.kie_poll_max_interval_seconds)

    async def download_fresh(
        self,
        provider: VideoProvider,
        status: TaskStatus,
        cp: checkpoint.Checkpoint,
        job: VideoJob,
        path: Path,
    ) -> None:
        """Download the result; a result URL that answers 403/404/410 is fetched again through
        the provider (a new status, else its download-url endpoint) before it counts as a failure.
        The checkpoint stays either way: a task that succeeded is never created again."""
        try:
            await self.retrying(lambda: provider.download(status, job, path))
            return
        except ProviderError as exc:
            fresh = getattr(provider, "fresh_urls", None)
            if exc.code != RESULT_URL_EXPIRED or fresh is None:
                raise
            last: ProviderError = exc
        async for url in fresh(cp.task_id, cp.model, status.video_url):
            self.log.info("result_url_refreshed", task_id=cp.task_id)
            again = replace(status, video_url=url)
            try:
                await self.retrying(lambda again=again: provider.download(again, job, path))  # type: ignore[misc]
                return
            except ProviderError as exc:
                if exc.code != RESULT_URL_EXPIRED:
                    raise
                last = exc
        raise last

    async def store_video(
        self, provider: VideoProvider, status: TaskStatus, cp: checkpoint.Checkpoint, job: VideoJob
    ) -> RunnerResult:
        key = video_key(self.request.name)
        with tempfile.TemporaryDirectory(prefix="vidgen-") as tmp:
            path = Path(tmp) / "video.mp4"
            await self.download_fresh(provider, status, cp, job, path)
            if not looks_like_mp4(path):
                raise ProviderError(ErrorClass.UNKNOWN, "bad_video", "the result is not an MP4 file")
            try:
                info = await asyncio.to_thread(probe, path)
            except NotAVideo as exc:
                raise ProviderError(ErrorClass.UNKNOWN, "bad_video", str(exc)) from None
            size = path.stat().st_size
            await asyncio.to_thread(self.storage.put_file, key, path, "video/mp4")
        done = cp.with_result(bytes=size, duration=info.duration, width=info.width, height=info.height)
        await asyncio.to_thread(checkpoint.save, self.storage, done)
        return self._success(cp, size, info.duration)

    # --- the attempt ---------------------------------------------------------------------

    async def run(self) -> RunnerResult:
        self.check_request()
        cp = await asyncio.to_thread(checkpoint.load, self.storage, self.request.name)
        stored = await self.already_stored(cp)
        if stored is not None:
            return stored
        photo = await self.load_photo()
        provider = self.provider or make_provider(self.settings, self.storage, self.patience)
        try:
            if cp is not None and self._resumable(cp, provider):
                self.log.info("task_resumed", task_id=cp.task_id, provider=provider.name)
                job = self.job(photo, cp.prompt)
            else:
                cp, job = await self.start_task(provider, photo)
            try:
                status = await self.wait_for(provider, cp, job)
            except DeadlineTimeout as exc:
                # the task is written off: the next attempt must create a new one
                await asyncio.to_thread(checkpoint.clear, self.storage, self.request.name)
                return RunnerResult.failed(classify_failure(exception=exc, message=str(exc)))
            if status.state is TaskState.FAILED:
                await asyncio.to_thread(checkpoint.clear, self.storage, self.request.name)
                failure = status.failure or Failure(ErrorClass.UNKNOWN, "task_failed")
                return RunnerResult.failed(failure)
            return await self.store_video(provider, status, cp, job)
        finally:
            if self.provider is None:
                await provider.aclose()
