"""The runner against the fake KIE.AI server: success, every error class, resume, download
checks. Everything is real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.errors import ErrorClass
from vidgen.core.models import checkpoint_key, photo_key, video_key
from vidgen.core.result import EXIT_FINAL, EXIT_OK, EXIT_RETRYABLE, decode, encode
from vidgen.runner import checkpoint
from vidgen.runner.openai_prompt import DEFAULT_PROMPT
from vidgen.runner.pipeline import RunRequest, run_generation

from .conftest import NAME


def request(**kw: object) -> RunRequest:
    return RunRequest(name=NAME, photo=photo_key(NAME), **kw)  # type: ignore[arg-type]


def frames_and_seconds(storage, tmp_path: Path) -> tuple[int, float]:
    path = tmp_path / "check.mp4"
    storage.get_file(video_key(NAME), path)
    return imageio_ffmpeg.count_frames_and_secs(str(path))


async def test_success_stores_a_valid_mp4_and_reports_it(
    kie: FakeKie, storage, make_settings, tmp_path
) -> None:
    kie.generation_seconds = 0.2
    result = await run_generation(request(prompt="the cat waves"), make_settings(kie), storage)

    assert result.ok and result.exit_code == EXIT_OK
    assert result.video == video_key(NAME) and storage.exists(video_key(NAME))
    stored = storage.get(video_key(NAME))
    assert result.bytes == len(stored) == len(kie.video)
    assert stored[4:8] == b"ftyp"
    frames, seconds = frames_and_seconds(storage, tmp_path)
    assert frames > 0 and seconds == pytest.approx(1.0, abs=0.1)
    assert result.duration == pytest.approx(seconds, abs=0.1)
    assert result.model == "sora-2-image-to-video"
    assert result.taskId in kie.tasks
    # no OpenAI key: the user's own prompt, recorded as not enhanced
    assert result.prompt == "the cat waves" and result.promptEnhanced is False

    # the photo was uploaded (file storage cannot sign a URL) and that URL went into the task
    (upload,) = kie.calls("upload")
    assert upload.body["uploadPath"] == "vidgen"
    assert list(kie.uploads.values()) == [storage.get(photo_key(NAME))]
    (create,) = kie.calls("createTask")
    assert create.body["model"] == "sora-2-image-to-video"
    assert create.body["input"]["image_urls"][0].startswith(f"{kie.url}/files/")
    assert create.body["input"]["aspect_ratio"] == "portrait"
    assert create.body["input"]["n_frames"] == "10"
    assert kie.polls(result.taskId) >= 2  # it waited while the task was generating
    # the checkpoint was written and completed with the result
    cp = checkpoint.load(storage, NAME)
    assert cp is not None and cp.task_id == result.taskId and cp.result["bytes"] == result.bytes
    # the success line
    line = json.loads(encode(result))
    assert line["ok"] is True
    assert {"video", "bytes", "duration", "model", "taskId", "prompt"} <= set(line)


async def test_veo3_fast_uses_the_veo_endpoints(kie: FakeKie, storage, make_settings) -> None:
    result = await run_generation(
        request(model="veo3_fast", aspect_ratio="landscape", duration_seconds=8), make_settings(kie), storage
    )
    assert result.ok, result
    (create,) = kie.calls("createTask")
    assert create.path == "/api/v1/veo/generate"
    assert create.body["model"] == "veo3_fast" and create.body["aspect_ratio"] == "16:9"
    assert create.body["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert create.body["imageUrls"][0].startswith(f"{kie.url}/files/")
    assert all(r.path == "/api/v1/veo/record-info" for r in kie.calls("recordInfo"))
    assert result.model == "veo3_fast" and storage.exists(video_key(NAME))


async def exhaust_rate_limit(kie: FakeKie) -> None:
    async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}) as c:
        for _ in range(kie.rate_limit):
            body = {
                "model": "sora-2-image-to-video",
                "input": {"prompt": "x", "image_urls": ["http://x/y.jpg"]},
            }
            assert (await c.post("/api/v1/jobs/createTask", json=body)).json()["code"] == 200


@pytest.mark.parametrize(
    ("scenario", "error_class", "code", "exit_code"),
    [
        ("rate_limit_429", ErrorClass.RATE_LIMIT, "provider_429", EXIT_RETRYABLE),
        ("no_credits_402", ErrorClass.BILLING, "provider_402", EXIT_FINAL),
        ("bad_key_401", ErrorClass.BILLING, "provider_401", EXIT_FINAL),
        ("content_policy_501", ErrorClass.USER_VIOLATION, "provider_501", EXIT_FINAL),
        ("generation_failed_501", ErrorClass.TEMPORARY, "provider_501", EXIT_RETRYABLE),
        ("server_error_500", ErrorClass.TEMPORARY, "provider_500", EXIT_RETRYABLE),
        ("maintenance_455", ErrorClass.TEMPORARY, "provider_455", EXIT_RETRYABLE),
    ],
)
async def test_each_error_class(
    scenario: str, error_class: ErrorClass, code: str, exit_code: int, storage, make_settings
) -> None:
    async with FakeKie(credits=0 if scenario == "no_credits_402" else None) as kie:
        settings = make_settings(kie)
        if scenario == "rate_limit_429":
            await exhaust_rate_limit(kie)  # the fake's real 20 per 10 s window
            settings = make_settings(kie, kie_rate_limit_patience_seconds=0)  # no waiting it out
        elif scenario == "bad_key_401":
            settings = make_settings(kie, kie_api_key="wrong-key")
        elif scenario == "content_policy_501":
            kie.fail_next_tasks(
                fail_msg="Your image violates our content policy (public figure)", fail_code="400"
            )
        elif scenario == "generation_failed_501":
            kie.fail_next_tasks(fail_msg="internal generation error", fail_code="500")
        elif scenario == "server_error_500":
            kie.fail("createTask", code=500, msg="Server error", http_status=500)
        elif scenario == "maintenance_455":
            kie.fail("createTask", code=455, msg="Service under maintenance")  # HTTP 200, code in the body
        result = await run_generation(request(), settings, storage)

    assert not result.ok
    assert (result.error_class, result.code, result.exit_code) == (error_class, code, exit_code)
    assert result.detail  # a message for the operator's status and logs
    assert "Traceback" not in result.detail
    assert not storage.exists(video_key(NAME))
    decoded = decode(encode(result))
    assert decoded is not None and decoded.error_class is error_class and decoded.exit_code == exit_code
    line = json.loads(encode(result))
    assert line["ok"] is False and line["class"] == str(error_class) and line["code"] == code


async def test_content_policy_message_is_kept(kie: FakeKie, storage, make_settings) -> None:
    kie.fail_next_tasks(fail_msg="Content policy violation: unsafe image", fail_code="400")
    result = await run_generation(request(), make_settings(kie), storage)
    assert result.error_class is ErrorClass.USER_VIOLATION
    assert "content policy" in (result.detail or "").lower()
    # a failed task is written off: the next attempt creates a new one
    assert not storage.exists(checkpoint_key(NAME))


async def test_500_then_success_on_the_next_attempt(kie: FakeKie, storage, make_settings) -> None:
    kie.fail("createTask", code=500, msg="Server error", http_status=500)
    settings = make_settings(kie)
    first = await run_generation(request(attempt=1), settings, storage)
    assert (first.error_class, first.exit_code) == (ErrorClass.TEMPORARY, EXIT_RETRYABLE)
    assert not storage.exists(checkpoint_key(NAME))  # nothing was created, nothing to resume
    second = await run_generation(request(attempt=2), settings, storage)
    assert second.ok and second.exit_code == EXIT_OK
    assert kie.create_calls == 2 and len(kie.tasks) == 1


async def test_short_blips_while_polling_are_retried_inside_the_run(
    kie: FakeKie, storage, make_settings
) -> None:
    kie.generation_seconds = 0.1
    kie.fail("recordInfo", times=2, code=500, msg="Server error", http_status=500)
    kie.fail("download", times=1, code=502, msg="Bad gateway", http_status=502)
    result = await run_generation(request(), make_settings(kie), storage)
    assert result.ok, result
    assert kie.create_calls == 1
    assert len(kie.calls("download")) == 2


async def test_polling_gives_up_after_bounded_retries(kie: FakeKie, storage, make_settings) -> None:
    kie.fail("recordInfo", times=100, code=500, msg="Server error", http_status=500)
    result = await run_generation(request(), make_settings(kie, kie_poll_retries=3), storage)
    assert (result.error_class, result.exit_code) == (ErrorClass.TEMPORARY, EXIT_RETRYABLE)
    assert len(kie.calls("recordInfo")) == 3
    # the task may still finish: the checkpoint stays, so the next attempt resumes it
    assert storage.exists(checkpoint_key(NAME))


async def test_network_timeout_while_polling_is_retried(kie: FakeKie, storage, make_settings) -> None:
    kie.latency["recordInfo"] = 0.6
    result = await run_generation(
        request(), make_settings(kie, kie_request_timeout_seconds=0.3, kie_poll_retries=2), storage
    )
    assert (result.error_class, result.code, result.exit_code) == (
        ErrorClass.TEMPORARY,
        "timeout",
        EXIT_RETRYABLE,
    )
    assert len(kie.calls("recordInfo")) == 2


async def test_timeout_past_the_deadline(kie: FakeKie, storage, make_settings) -> None:
    kie.generation_seconds = 60
    result = await run_generation(request(), make_settings(kie, kie_deadline_seconds=0.5), storage)
    assert (result.error_class, result.code, result.exit_code) == (
        ErrorClass.TEMPORARY,
        "timeout",
        EXIT_RETRYABLE,
    )
    assert "0.5 s" in (result.detail or "")
    assert kie.polls() >= 2
    assert not storage.exists(checkpoint_key(NAME))  # written off: the next attempt starts afresh


async def test_restart_resumes_the_checkpointed_task(kie: FakeKie, storage, make_settings) -> None:
    # an attempt that got as far as creating the task and checkpointing it, then died
    async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}) as c:
        body = {"model": "sora-2-image-to-video", "input": {"prompt": "p", "image_urls": ["http://x/y.jpg"]}}
        task_id = (await c.post("/api/v1/jobs/createTask", json=body)).json()["data"]["taskId"]
    checkpoint.save(
        storage,
        checkpoint.Checkpoint(NAME, "kie", "sora-2-image-to-video", task_id, time.time(), "p", True, 1),
    )
    result = await run_generation(request(attempt=2), make_settings(kie), storage)
    assert result.ok and result.taskId == task_id
    assert result.prompt == "p" and result.promptEnhanced is True
    assert kie.create_calls == 1 and not kie.calls("upload")


async def test_checkpoint_of_another_model_is_not_resumed(kie: FakeKie, storage, make_settings) -> None:
    checkpoint.save(
        storage, checkpoint.Checkpoint(NAME, "kie", "veo3_fast", "veo_gone", time.time(), "p", True, 1)
    )
    result = await run_generation(request(), make_settings(kie), storage)
    assert result.ok and result.taskId != "veo_gone" and kie.create_calls == 1


async def test_stored_video_finishes_at_once(kie: FakeKie, storage, make_settings) -> None:
    settings = make_settings(kie)
    first = await run_generation(request(), settings, storage)
    assert first.ok
    before = len(kie.requests)
    again = await run_generation(request(attempt=2), settings, storage)
    assert again == first
    assert len(kie.requests) == before  # not one call to the provider
    # even without the checkpoint's record it reports the stored file
    storage.delete(checkpoint_key(NAME))
    third = await run_generation(request(attempt=3), settings, storage)
    assert (
        third.ok and third.bytes == first.bytes and third.duration == pytest.approx(first.duration, abs=0.05)
    )
    assert len(kie.requests) == before


@pytest.mark.parametrize(
    ("setup", "code"),
    [("content_type", "bad_video"), ("too_large", "video_too_large"), ("not_mp4", "bad_video")],
)
async def test_download_checks(setup: str, code: str, kie: FakeKie, storage, make_settings) -> None:
    overrides = {}
    if setup == "content_type":
        kie.video_content_type = "text/html"
    elif setup == "too_large":
        overrides["max_video_bytes"] = 1000
    else:
        kie.video = b"<html>expired</html>" * 50
    result = await run_generation(request(), make_settings(kie, **overrides), storage)
    assert (result.error_class, result.code, result.exit_code) == (ErrorClass.UNKNOWN, code, EXIT_RETRYABLE)
    assert not storage.exists(video_key(NAME))
    assert storage.exists(checkpoint_key(NAME))  # the task succeeded: a retry downloads it again


async def test_default_prompt_when_the_user_gave_none(kie: FakeKie, storage, make_settings) -> None:
    result = await run_generation(request(prompt=""), make_settings(kie), storage)
    assert result.ok and result.prompt == DEFAULT_PROMPT
    assert kie.calls("createTask")[0].body["input"]["prompt"] == DEFAULT_PROMPT
