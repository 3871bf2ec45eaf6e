"""Submit and collect (issue 13): an attempt as two short runs, so no pod waits while the
provider generates.

    submit:  request checks → video already stored? done → checkpoint of this model? answer its
             task (never create twice) : photo checks → enhance the prompt → upload → createTask
             (with `callBackUrl` when given) → checkpoint → a `submitted` line
    collect: request checks → video already stored? done → one status request → pending: code
             `task_pending` (ask again later) · failed: the failure (checkpoint cleared) ·
             success: download (a 403/404/410 result URL is fetched again through KIE.AI) →
             check the MP4 → store `outputs/<name>.mp4` → the usual success line

The operator (or local mode) runs `vidgen runner submit …`, records the task id of the line,
learns the task is done (callback hint confirmed by a status request, or its poller) and runs
`vidgen runner collect --task-id …`. A collect killed mid-download stored nothing and is simply
run again. The whole-attempt mode (`run_generation`) is unchanged."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from vidgen.core.catalogue import ALL_MODELS
from vidgen.core.errors import ErrorClass, Failure, InputError
from vidgen.core.ports import Storage
from vidgen.core.result import RunnerResult
from vidgen.core.settings import Settings

from . import checkpoint
from .photo import Photo
from .pipeline import RunRequest, _Attempt, as_result, make_provider
from .provider import TaskState, VideoProvider
from .rate_patience import RateLimitPatience

TASK_PENDING = "task_pending"


async def submit_task(
    request: RunRequest,
    settings: Settings,
    storage: Storage,
    *,
    provider: VideoProvider | None = None,
    patience: RateLimitPatience | None = None,
) -> RunnerResult:
    """Create the provider task (or find the checkpointed one) and return a `submitted` line."""
    patience = patience or RateLimitPatience.from_settings(settings)
    stage = _Stages(request, settings, storage, provider, patience)
    return await as_result(request, patience, stage.submit)


async def collect_task(
    request: RunRequest,
    task_id: str,
    settings: Settings,
    storage: Storage,
    *,
    provider: VideoProvider | None = None,
) -> RunnerResult:
    """Look at the task once; if it is done, store its video (see the module's docstring)."""
    patience = RateLimitPatience.from_settings(settings)
    stage = _Stages(request, settings, storage, provider, patience)
    return await as_result(request, patience, lambda: stage.collect(task_id))


class _Stages(_Attempt):
    def _submitted(self, cp: checkpoint.Checkpoint) -> RunnerResult:
        info = ALL_MODELS.get(cp.model)
        return RunnerResult(
            ok=True,
            submitted=True,
            taskId=cp.task_id,
            model=cp.model,
            family=info.family if info else None,
            expectedSeconds=info.expected_seconds if info else None,
            submittedAt=round(cp.created_at, 3),
            prompt=cp.prompt,
            promptEnhanced=cp.prompt_enhanced,
        )

    async def submit(self) -> RunnerResult:
        self.check_request()
        cp = await asyncio.to_thread(checkpoint.load, self.storage, self.request.name)
        stored = await self.already_stored(cp)
        if stored is not None:
            return stored
        provider = self.provider or make_provider(self.settings, self.storage, self.patience)
        try:
            if cp is not None and self._resumable(cp, provider):
                self.log.info("task_already_submitted", task_id=cp.task_id, provider=provider.name)
                return self._submitted(cp)
            photo = await self.load_photo()
            cp, _ = await self.start_task(provider, photo)
            return self._submitted(cp)
        finally:
            if self.provider is None:
                await provider.aclose()

    async def _photo_for(self, provider: VideoProvider) -> Photo:
        """The photo (the sandbox renders from it); KIE.AI has it already, so a photo gone from
        storage does not lose a paid task there."""
        try:
            return await self.load_photo()
        except InputError as exc:
            if provider.name == "sandbox" or exc.code != "photo_missing":
                raise
            return Photo(b"", "JPEG", "image/jpeg", "jpg", 0, 0)

    async def collect(self, task_id: str) -> RunnerResult:
        self.check_request()
        task_id = task_id.strip()
        if not task_id:
            raise InputError("missing_task_id", "collect needs --task-id")
        cp = await asyncio.to_thread(checkpoint.load, self.storage, self.request.name)
        stored = await self.already_stored(cp)
        if stored is not None:
            return stored
        provider = self.provider or make_provider(self.settings, self.storage, self.patience)
        try:
            if cp is None or cp.task_id != task_id:
                if cp is not None:
                    self.log.warning(
                        "checkpoint_of_another_task", checkpoint_task=cp.task_id, task_id=task_id
                    )
                cp = checkpoint.Checkpoint(
                    name=self.request.name,
                    provider=provider.name,
                    model=self.request.model,
                    task_id=task_id,
                    created_at=time.time(),
                    prompt=self.request.prompt,
                    prompt_enhanced=False,
                    attempt=self.request.attempt,
                )
            # the checkpoint knows the task's model (its family); without one, --model says it
            job = replace(self.job(await self._photo_for(provider), cp.prompt), model=cp.model)
            status = await self.retrying(lambda: provider.status(task_id, job))
            self.log.info("task_state", task_id=task_id, state=status.provider_state)
            if status.state is TaskState.PENDING:
                return RunnerResult.failed(
                    Failure(ErrorClass.TEMPORARY, TASK_PENDING, f"task {task_id} is {status.provider_state}"),
                    taskId=task_id,
                )
            if status.state is TaskState.FAILED:
                current = await asyncio.to_thread(checkpoint.load, self.storage, self.request.name)
                if current is not None and current.task_id == task_id:
                    await asyncio.to_thread(checkpoint.clear, self.storage, self.request.name)
                failure = status.failure or Failure(ErrorClass.UNKNOWN, "task_failed")
                return RunnerResult.failed(failure, taskId=task_id)
            return await self.store_video(provider, status, cp, job)
        finally:
            if self.provider is None:
                await provider.aclose()
