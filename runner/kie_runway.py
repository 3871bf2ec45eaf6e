"""The Runway API (`POST /api/v1/runway/generate`, `GET /api/v1/runway/record-detail`): no
`model` field; `imageUrl` (one), `duration` 5 or 10 (a number), `quality` 720p/1080p (1080p only
at 5 s: the catalogue refuses the rest), `aspectRatio`, `waterMark` "" (none), `prompt` at most
1800 characters. record-detail's `state`: wait / queueing / generating / success / fail, the
video at `videoInfo.videoUrl`, and `expireFlag` 1 once the result is gone."""

from __future__ import annotations

from typing import Any

from vidgen.core.catalogue import ALL_MODELS, RUNWAY
from vidgen.core.errors import ErrorClass, Failure

from .kie_family import failed, portrait_or_landscape, succeeded
from .provider import TaskState, TaskStatus, VideoJob

MAX_PROMPT = 1800


class RunwayFamily:
    family = RUNWAY
    create_path = "/api/v1/runway/generate"
    status_path = "/api/v1/runway/record-detail"

    def create_body(self, job: VideoJob, image_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": job.prompt[:MAX_PROMPT],
            "imageUrl": image_url,
            "duration": job.duration_seconds,
            "quality": job.resolution or ALL_MODELS[job.model].default_resolution,
            "aspectRatio": portrait_or_landscape(job.aspect_ratio),
            "waterMark": "",
        }
        if job.callback_url:
            body["callBackUrl"] = job.callback_url
        return body

    def read_status(self, data: dict[str, Any]) -> TaskStatus:
        state = str(data.get("state") or "")
        if state == "success":
            if str(data.get("expireFlag") or 0) == "1":
                return TaskStatus(
                    TaskState.FAILED,
                    failure=Failure(ErrorClass.UNKNOWN, "result_expired", "KIE.AI no longer has the video"),
                    provider_state="expired",
                )
            info = data.get("videoInfo")
            return succeeded(info.get("videoUrl") if isinstance(info, dict) else None, state)
        if state == "fail":
            return failed(data.get("failCode"), data.get("failMsg"), state)
        return TaskStatus(TaskState.PENDING, provider_state=state or "unknown")
