"""The market jobs API (`POST /api/v1/jobs/createTask`, `GET /api/v1/jobs/recordInfo`): one
`model` and an `input` whose field names differ from model to model (shared/reference/kie-ai.md):

| model | image field | length | resolution / size |
|---|---|---|---|
| sora-2-image-to-video | `image_urls` [1] | `n_frames` "10"/"15" | — |
| sora-2-pro-image-to-video | `image_urls` [1] | `n_frames` "10"/"15" | `size` standard/high |
| kling-2.6/image-to-video | `image_urls` [1] | `duration` "5"/"10" | — (`sound` false) |
| wan/2-6-image-to-video | `image_urls` [1] | `duration` "5"/"10"/"15" | `resolution` 720p/1080p |
| hailuo/2-3-image-to-video-pro | `image_url` | `duration` "6"/"10" | `resolution` 768P/1080P |
| bytedance/seedance-1.5-pro | `input_urls` [1] | `duration` "4"/"8"/"12" | `resolution` 720p/1080p |

Durations are string enums. recordInfo's `state` is waiting / queuing / generating / success /
fail; `resultJson` is a JSON string `{"resultUrls": [...]}`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vidgen.core.catalogue import ALL_MODELS, JOBS
from vidgen.core.errors import InputError

from .kie_family import failed, portrait_or_landscape, succeeded
from .provider import TaskState, TaskStatus, VideoJob

PENDING_STATES = frozenset({"waiting", "queuing", "generating"})


def _resolution(job: VideoJob) -> str:
    return job.resolution or ALL_MODELS[job.model].default_resolution


def _sora(job: VideoJob, image: str) -> dict[str, Any]:
    return {
        "prompt": job.prompt,
        "image_urls": [image],
        "aspect_ratio": job.aspect_ratio,
        "n_frames": str(job.duration_seconds),
        "remove_watermark": True,
    }


def _sora_pro(job: VideoJob, image: str) -> dict[str, Any]:
    return {**_sora(job, image), "size": _resolution(job)}


def _kling(job: VideoJob, image: str) -> dict[str, Any]:
    return {
        "prompt": job.prompt,
        "image_urls": [image],
        "sound": False,
        "duration": str(job.duration_seconds),
    }


def _wan(job: VideoJob, image: str) -> dict[str, Any]:
    return {
        "prompt": job.prompt,
        "image_urls": [image],
        "duration": str(job.duration_seconds),
        "resolution": _resolution(job),
    }


def _hailuo(job: VideoJob, image: str) -> dict[str, Any]:
    return {
        "prompt": job.prompt,
        "image_url": image,
        "duration": str(job.duration_seconds),
        "resolution": _resolution(job),
    }


def _seedance(job: VideoJob, image: str) -> dict[str, Any]:
    return {
        "prompt": job.prompt,
        "input_urls": [image],
        "aspect_ratio": portrait_or_landscape(job.aspect_ratio),
        "resolution": _resolution(job),
        "duration": str(job.duration_seconds),
        "generate_audio": False,
    }


#: model id → its `input` builder
INPUTS: dict[str, Callable[[VideoJob, str], dict[str, Any]]] = {
    "sora-2-image-to-video": _sora,
    "sora-2-pro-image-to-video": _sora_pro,
    "kling-2.6/image-to-video": _kling,
    "wan/2-6-image-to-video": _wan,
    "hailuo/2-3-image-to-video-pro": _hailuo,
    "bytedance/seedance-1.5-pro": _seedance,
}


class JobsFamily:
    family = JOBS
    create_path = "/api/v1/jobs/createTask"
    status_path = "/api/v1/jobs/recordInfo"

    def create_body(self, job: VideoJob, image_url: str) -> dict[str, Any]:
        build = INPUTS.get(job.model)
        if build is None:
            raise InputError("unknown_model", f"{job.model} has no jobs-API adapter")
        body: dict[str, Any] = {"model": job.model, "input": build(job, image_url)}
        if job.callback_url:
            body["callBackUrl"] = job.callback_url
        return body

    def read_status(self, data: dict[str, Any]) -> TaskStatus:
        state = str(data.get("state") or "")
        if state == "success":
            raw = data.get("resultJson")
            try:
                result = json.loads(raw) if isinstance(raw, str) else raw
                urls = result.get("resultUrls") if isinstance(result, dict) else None
            except ValueError:
                urls = None
            return succeeded(urls, state)
        if state == "fail":
            return failed(data.get("failCode"), data.get("failMsg"), state)
        return TaskStatus(TaskState.PENDING, provider_state=state or "unknown")
