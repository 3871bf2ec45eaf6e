"""KIE.AI over httpx: upload the photo (or pass a signed URL), create the task, read its state,
download the result. The request body and the status schema come from the model's family
adapter (`kie_family`: the jobs, Veo 3.1 and Runway APIs), chosen by the catalogue. Every error
goes through `vidgen.core.errors.classify_failure` (KIE.AI also sends errors with HTTP 200, so
the body's `code` is read first; `kie_answers.check_answer`).

`create_task` is the paid call: it is retried only when the connection was never made (so the
request cannot have reached KIE.AI); anything else fails the attempt, and the operator decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from vidgen.core.errors import ErrorClass, ProviderError, classify_failure
from vidgen.core.ports import Storage
from vidgen.core.settings import Settings

from .kie_answers import check_answer
from .kie_family import family_of
from .provider import TaskState, TaskStatus, VideoJob, raise_failure
from .rate_patience import RateLimitPatience

VIDEO_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
SIGNED_URL_SECONDS = 6 * 3600
#: a result URL answering these is expired or revoked (the video may still be at KIE.AI)
EXPIRED_STATUSES = frozenset({403, 404, 410})

__all__ = ["KieProvider", "check_answer"]


class KieProvider:
    name = "kie"

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        patience: RateLimitPatience | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.patience = patience or RateLimitPatience.from_settings(settings)
        #: the photo's URL per generation: a createTask tried again after a 429 does not upload again
        self._image_urls: dict[str, str] = {}
        settings.require("kie_api_key")
        timeout = httpx.Timeout(
            settings.kie_request_timeout_seconds, connect=min(10.0, settings.kie_request_timeout_seconds)
        )
        self.api = httpx.AsyncClient(
            base_url=settings.kie_base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.secret('kie_api_key')}"},
            timeout=timeout,
            transport=transport,
        )
        self.upload_api = httpx.AsyncClient(
            base_url=settings.kie_upload_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.secret('kie_api_key')}"},
            timeout=timeout,
            transport=transport,
        )
        # result URLs point at CDNs: never send them our key
        self.downloads = httpx.AsyncClient(timeout=timeout, follow_redirects=True, transport=transport)

    async def aclose(self) -> None:
        await asyncio.gather(self.api.aclose(), self.upload_api.aclose(), self.downloads.aclose())

    # --- photo ---------------------------------------------------------------------------

    async def image_url(self, job: VideoJob) -> str:
        if job.name in self._image_urls:
            return self._image_urls[job.name]
        url = await self._image_url(job)
        self._image_urls[job.name] = url
        return url

    async def _image_url(self, job: VideoJob) -> str:
        signed = await asyncio.to_thread(self.storage.signed_url, job.photo_key, SIGNED_URL_SECONDS)
        if signed:
            return str(signed)
        name = f"{job.name}.{job.photo_extension}"
        async for attempt in self._connect_retries():
            with attempt:
                resp = await self.upload_api.post(
                    "/api/file-stream-upload",
                    files={"file": (name, job.photo, job.photo_content_type)},
                    data={"uploadPath": self.settings.kie_upload_path, "fileName": name},
                )
        data = check_answer(resp)
        url = data.get("downloadUrl") or data.get("fileUrl")
        if not isinstance(url, str) or not url:
            raise ProviderError(ErrorClass.UNKNOWN, "bad_response", "upload answer without a URL")
        return url

    # --- task ----------------------------------------------------------------------------

    def _connect_retries(self) -> AsyncRetrying:
        """Retries only for a connection that was never made (the request was not sent)."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.settings.kie_poll_retries),
            wait=wait_exponential(multiplier=self.settings.kie_retry_wait_seconds, max=10),
            retry=retry_if_exception_type((httpx.ConnectError, httpx.ConnectTimeout)),
            reraise=True,
        )

    async def create_task(self, job: VideoJob) -> str:
        family = family_of(job.model)
        image = await self.image_url(job)
        payload = family.create_body(job, image)

        async def post() -> dict[str, Any]:
            async for attempt in self._connect_retries():
                with attempt:
                    resp = await self.api.post(family.create_path, json=payload)
            return check_answer(resp)

        # a 429 was neither kept nor paid for: wait it out (bounded) and try again
        data = await self.patience.call(post)
        task_id = data.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(ErrorClass.UNKNOWN, "bad_response", "createTask answer without a taskId")
        return task_id

    async def status(self, task_id: str, job: VideoJob) -> TaskStatus:
        return await self.status_of(task_id, job.model)

    async def status_of(self, task_id: str, model: str) -> TaskStatus:
        """One status request for a task of `model` (its family's endpoint and schema)."""
        family = family_of(model)
        resp = await self.api.get(family.status_path, params={"taskId": task_id})
        return family.read_status(check_answer(resp))

    async def fresh_urls(self, task_id: str, model: str, stale: str | None) -> AsyncIterator[str]:
        """New URLs for a finished task whose result URL stopped working: the one a new status
        request gives (if it differs), then KIE.AI's download-url helper (valid ~20 min)."""
        seen = {stale}
        status = await self.status_of(task_id, model)
        if status.state is not TaskState.SUCCESS:
            return
        if status.video_url not in seen and status.video_url:
            seen.add(status.video_url)
            yield status.video_url
        resp = await self.api.post("/api/v1/common/download-url", json={"url": stale or status.video_url})
        data = check_answer(resp)
        url = data.get("value") or data.get("url") or data.get("downloadUrl")
        if isinstance(url, str) and url and url not in seen:
            yield url

    # --- result --------------------------------------------------------------------------

    async def download(self, status: TaskStatus, job: VideoJob, dest: Path) -> None:
        if not status.video_url:
            raise ProviderError(ErrorClass.UNKNOWN, "bad_response", "no video URL")
        cap = self.settings.max_video_bytes
        async with self.downloads.stream("GET", status.video_url) as resp:
            if resp.status_code in EXPIRED_STATUSES:
                # the URL is gone, not the video: the pipeline asks KIE.AI for a fresh one
                raise ProviderError(ErrorClass.UNKNOWN, "result_url_expired", f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise_failure(classify_failure(http_status=resp.status_code, message="video download"))
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            if not (ctype.startswith("video/") or ctype in VIDEO_TYPES):
                raise ProviderError(ErrorClass.UNKNOWN, "bad_video", f"content type {ctype or 'missing'}")
            length = resp.headers.get("content-length")
            if length and length.isdigit() and int(length) > cap:
                raise ProviderError(ErrorClass.UNKNOWN, "video_too_large", f"{length} bytes > {cap}")
            size = 0
            out = await asyncio.to_thread(dest.open, "wb")
            try:
                async for chunk in resp.aiter_bytes(1 << 16):
                    size += len(chunk)
                    if size > cap:
                        raise ProviderError(ErrorClass.UNKNOWN, "video_too_large", f"more than {cap} bytes")
                    out.write(chunk)  # 64 KiB to a local file: not worth a thread hop
            finally:
                out.close()
