"""Every model family against the fake KIE.AI: the runner sends each model's own field spellings
(the fake refuses a missing, unknown or misspelt field with 422, as KIE.AI does), reads each
family's status schema, and classifies each family's errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.catalogue import ALL_MODELS, MODELS
from vidgen.core.errors import ErrorClass
from vidgen.core.models import photo_key, video_key
from vidgen.core.result import EXIT_FINAL, EXIT_RETRYABLE
from vidgen.runner.pipeline import RunRequest, run_generation

from .conftest import NAME

#: (model, aspect, duration, resolution) → the create request the adapter must send
CASES: list[tuple[str, str, int, str, str, dict[str, Any]]] = [
    ("sora-2-image-to-video", "portrait", 15, "", "/api/v1/jobs/createTask",
     {"input.n_frames": "15", "input.aspect_ratio": "portrait", "input.image_urls": list}),
    ("sora-2-pro-image-to-video", "landscape", 10, "high", "/api/v1/jobs/createTask",
     {"input.n_frames": "10", "input.size": "high", "input.aspect_ratio": "landscape"}),
    ("kling-2.6/image-to-video", "portrait", 5, "", "/api/v1/jobs/createTask",
     {"input.duration": "5", "input.sound": False, "input.image_urls": list}),
    ("wan/2-6-image-to-video", "portrait", 15, "1080p", "/api/v1/jobs/createTask",
     {"input.duration": "15", "input.resolution": "1080p", "input.image_urls": list}),
    ("hailuo/2-3-image-to-video-pro", "portrait", 6, "1080P", "/api/v1/jobs/createTask",
     {"input.duration": "6", "input.resolution": "1080P", "input.image_url": str}),
    ("bytedance/seedance-1.5-pro", "portrait", 8, "", "/api/v1/jobs/createTask",
     {"input.duration": "8", "input.resolution": "720p", "input.aspect_ratio": "9:16", "input.input_urls": list}),
    ("veo3_fast", "portrait", 8, "", "/api/v1/veo/generate",
     {"aspect_ratio": "9:16", "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "imageUrls": list}),
    ("veo3", "landscape", 8, "", "/api/v1/veo/generate", {"model": "veo3", "aspect_ratio": "16:9"}),
    ("runway-gen4", "portrait", 5, "1080p", "/api/v1/runway/generate",
     {"duration": 5, "quality": "1080p", "aspectRatio": "9:16", "imageUrl": str, "waterMark": ""}),
    ("runway-gen4", "landscape", 10, "", "/api/v1/runway/generate", {"duration": 10, "quality": "720p"}),
]  # fmt: skip
STATUS_PATHS = {
    "jobs": "/api/v1/jobs/recordInfo",
    "veo": "/api/v1/veo/record-info",
    "runway": "/api/v1/runway/record-detail",
}


def field(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for part in dotted.split("."):
        value = value[part]
    return value


def test_every_enabled_model_is_covered() -> None:
    assert {case[0] for case in CASES} == set(MODELS) == set(ALL_MODELS)


@pytest.mark.parametrize(
    ("model", "aspect", "duration", "resolution", "path", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[2]}s-{c[3] or 'default'}" for c in CASES],
)
async def test_each_model_sends_its_own_fields_and_is_read_back(
    model: str,
    aspect: str,
    duration: int,
    resolution: str,
    path: str,
    expected: dict[str, Any],
    kie: FakeKie,
    storage,
    make_settings,
) -> None:
    kie.generation_seconds = 0.1
    request = RunRequest(
        name=NAME,
        photo=photo_key(NAME),
        prompt="the cat waves",
        model=model,
        aspect_ratio=aspect,
        duration_seconds=duration,
        resolution=resolution,
    )
    result = await run_generation(request, make_settings(kie), storage)

    assert result.ok, result
    assert result.model == model and storage.exists(video_key(NAME))
    (create,) = kie.calls("createTask")
    assert create.path == path
    for name, want in expected.items():
        got = field(create.body, name)
        if isinstance(want, type):
            assert isinstance(got, want), (name, got)
            url = got[0] if isinstance(got, list) else got
            assert url.startswith(f"{kie.url}/files/")
        else:
            assert got == want, (name, got)
    family = ALL_MODELS[model].family
    assert {r.path for r in kie.calls("recordInfo")} == {STATUS_PATHS[family]}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("sora-2-image-to-video", {"prompt": "p", "image_url": "http://x/y.jpg"}),  # image_urls
        ("sora-2-image-to-video", {"prompt": "p", "image_urls": ["http://x/y.jpg"], "duration": "10"}),
        ("hailuo/2-3-image-to-video-pro", {"prompt": "p", "image_urls": ["http://x/y.jpg"]}),  # image_url
        ("bytedance/seedance-1.5-pro", {"prompt": "p", "image_urls": ["http://x/y.jpg"]}),  # input_urls
        ("wan/2-6-image-to-video", {"prompt": "p", "image_urls": ["http://x/y.jpg"], "duration": 5}),  # "5"
        ("hailuo/2-3-image-to-video-pro", {"prompt": "p", "image_url": "u", "duration": "10", "resolution": "1080P"}),
    ],
)  # fmt: skip
async def test_the_fake_refuses_wrong_spellings_with_422(
    model: str, body: dict[str, Any], kie: FakeKie
) -> None:
    async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}) as c:
        answer = (await c.post("/api/v1/jobs/createTask", json={"model": model, "input": body})).json()
        assert answer["code"] == 422, answer
        veo = {"prompt": "p", "imageUrls": ["u"], "aspectRatio": "9:16"}  # aspect_ratio since Veo 3.1
        assert (await c.post("/api/v1/veo/generate", json=veo)).json()["code"] == 422
        runway = {"prompt": "p", "imageUrl": "u", "duration": 10, "quality": "1080p"}
        assert (await c.post("/api/v1/runway/generate", json=runway)).json()["code"] == 422
    assert not kie.tasks


@pytest.mark.parametrize(
    ("model", "code", "msg", "error_class", "exit_code"),
    [
        ("veo3_fast", 400, "Your prompt was flagged by the content policy", ErrorClass.USER_VIOLATION, EXIT_FINAL),
        ("veo3_fast", 451, "Failed to fetch the image", ErrorClass.TEMPORARY, EXIT_RETRYABLE),
        ("runway-gen4", 400, "content policy violation: unsafe image", ErrorClass.USER_VIOLATION, EXIT_FINAL),
        ("runway-gen4", 451, "Image fetch failed", ErrorClass.TEMPORARY, EXIT_RETRYABLE),
    ],
)  # fmt: skip
async def test_veo_and_runway_refusals_are_classified(
    model: str,
    code: int,
    msg: str,
    error_class: ErrorClass,
    exit_code: int,
    kie: FakeKie,
    storage,
    make_settings,
) -> None:
    kie.fail("createTask", code=code, msg=msg, http_status=200)
    request = RunRequest(
        name=NAME, photo=photo_key(NAME), model=model, duration_seconds=ALL_MODELS[model].default_duration
    )
    result = await run_generation(request, make_settings(kie), storage)
    assert (result.error_class, result.code, result.exit_code) == (error_class, f"provider_{code}", exit_code)


@pytest.mark.parametrize("model", ["veo3_fast", "runway-gen4", "kling-2.6/image-to-video"])
async def test_a_failed_task_of_each_family_is_classified_by_its_message(
    model: str, kie: FakeKie, storage, make_settings
) -> None:
    kie.fail_next_tasks(fail_msg="The image violates the content policy (public figure)", fail_code="400")
    request = RunRequest(
        name=NAME, photo=photo_key(NAME), model=model, duration_seconds=ALL_MODELS[model].default_duration
    )
    result = await run_generation(request, make_settings(kie), storage)
    assert result.error_class is ErrorClass.USER_VIOLATION and result.exit_code == EXIT_FINAL


@pytest.mark.parametrize(
    ("model", "duration", "resolution", "code"),
    [
        ("runway-gen4", 10, "1080p", "bad_resolution"),
        ("hailuo/2-3-image-to-video-pro", 10, "1080P", "bad_resolution"),
        ("wan/2-6-image-to-video", 5, "4k", "bad_resolution"),
        ("veo3_fast", 10, "", "bad_duration"),
        ("sora-3", 10, "", "unknown_model"),
    ],
)
async def test_options_a_model_does_not_take_never_reach_the_provider(
    model: str, duration: int, resolution: str, code: str, kie: FakeKie, storage, make_settings
) -> None:
    request = RunRequest(
        name=NAME, photo=photo_key(NAME), model=model, duration_seconds=duration, resolution=resolution
    )
    result = await run_generation(request, make_settings(kie), storage)
    assert (result.error_class, result.code) == (ErrorClass.USER_VIOLATION, code)
    assert not kie.requests
