"""The Veo 3.1 API (`POST /api/v1/veo/generate`, `GET /api/v1/veo/record-info`). The photo is
the first frame (`generationType` FIRST_AND_LAST_FRAMES_2_VIDEO with one image); clips are 8 s;
`aspect_ratio` 9:16 or 16:9. record-info's `successFlag`: 0 running, 1 success (result URLs in
`response.resultUrls`), 2 failed, 3 generation failed (`errorCode`, `errorMessage`). A Veo
callback's `data` is `{taskId, info: {resultUrls, ...}}`: read as success when it has URLs."""

from __future__ import annotations

from typing import Any

from vidgen.core.catalogue import VEO

from .kie_family import failed, portrait_or_landscape, succeeded
from .provider import TaskState, TaskStatus, VideoJob

GENERATION_TYPE = "FIRST_AND_LAST_FRAMES_2_VIDEO"


class VeoFamily:
    family = VEO
    create_path = "/api/v1/veo/generate"
    status_path = "/api/v1/veo/record-info"

    def create_body(self, job: VideoJob, image_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": job.prompt,
            "imageUrls": [image_url],
            "model": job.model,
            "generationType": GENERATION_TYPE,
            "aspect_ratio": portrait_or_landscape(job.aspect_ratio),
        }
        if job.callback_url:
            body["callBackUrl"] = job.callback_url
        return body

    def read_status(self, data: dict[str, Any]) -> TaskStatus:
        flag = data.get("successFlag")
        if flag is None and isinstance(data.get("info"), dict):  # a callback's shape
            return succeeded(data["info"].get("resultUrls"), "1")
        if flag == 1:
            response = data.get("response")
            return succeeded(response.get("resultUrls") if isinstance(response, dict) else None, "1")
        if flag in (2, 3):
            return failed(data.get("errorCode"), data.get("errorMessage"), str(flag))
        return TaskStatus(TaskState.PENDING, provider_state=str(flag))
