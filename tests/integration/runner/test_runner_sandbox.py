"""The offline sandbox provider: a real MP4 of the right length and frame size, latency and
scripted failures (classified like KIE.AI's answers). It is the default without a KIE key."""

from __future__ import annotations

import time
from pathlib import Path

import imageio_ffmpeg
import pytest

from vidgen.core.errors import ErrorClass
from vidgen.core.models import photo_key, video_key
from vidgen.core.result import EXIT_FINAL, EXIT_OK, EXIT_RETRYABLE
from vidgen.runner.pipeline import RunRequest, make_provider, run_generation
from vidgen.runner.sandbox_provider import SandboxProvider

from .conftest import NAME


def request(**kw: object) -> RunRequest:
    return RunRequest(name=NAME, photo=photo_key(NAME), **kw)  # type: ignore[arg-type]


def probe_stored(storage, tmp_path: Path) -> tuple[tuple[int, int], float, int, float, str]:
    path = tmp_path / "probe.mp4"
    storage.get_file(video_key(NAME), path)
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    frames.close()
    count, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return meta["size"], meta["fps"], count, seconds, meta["codec"]


def test_sandbox_is_the_default_without_a_kie_key(make_settings, storage) -> None:
    assert isinstance(make_provider(make_settings(), storage), SandboxProvider)


@pytest.mark.parametrize(("aspect_ratio", "size"), [("portrait", (96, 170)), ("landscape", (170, 96))])
async def test_sandbox_video_has_the_expected_duration_and_frame_size(
    aspect_ratio: str, size: tuple[int, int], make_settings, storage, tmp_path
) -> None:
    settings = make_settings(sandbox_short_side=96, sandbox_fps=8, sandbox_max_seconds=1.5)
    result = await run_generation(request(aspect_ratio=aspect_ratio), settings, storage)

    assert result.ok and result.exit_code == EXIT_OK, result
    frame_size, fps, frames, seconds, codec = probe_stored(storage, tmp_path)
    assert frame_size == size
    assert codec == "h264" and fps == 8
    assert frames == 12  # 1.5 s at 8 fps (the request's 10 s is capped by sandbox_max_seconds)
    assert seconds == pytest.approx(1.5, abs=0.01)
    assert result.duration == pytest.approx(1.5, abs=0.05)
    assert result.bytes == len(storage.get(video_key(NAME)))
    assert result.taskId and result.taskId.startswith("sbx-")


async def test_sandbox_frames_move(make_settings, storage, tmp_path) -> None:
    """A slow zoom: the first and last frames differ, neighbours differ little."""
    await run_generation(request(), make_settings(sandbox_max_seconds=1.0), storage)
    path = tmp_path / "v.mp4"
    storage.get_file(video_key(NAME), path)
    gen = imageio_ffmpeg.read_frames(str(path))
    next(gen)
    frames = list(gen)

    def diff(a: bytes, b: bytes) -> float:
        return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)

    assert diff(frames[0], frames[-1]) > 2 * diff(frames[0], frames[1]) > 0


async def test_sandbox_latency(make_settings, storage) -> None:
    started = time.monotonic()
    result = await run_generation(request(), make_settings(sandbox_latency_seconds=0.6), storage)
    assert result.ok
    assert time.monotonic() - started >= 0.6


@pytest.mark.parametrize(
    ("script", "attempt", "error_class", "code", "exit_code"),
    [
        ("1:429", 1, ErrorClass.RATE_LIMIT, "provider_429", EXIT_RETRYABLE),
        ("*:402:insufficient credits", 3, ErrorClass.BILLING, "provider_402", EXIT_FINAL),
        ("1:501:content policy violation", 1, ErrorClass.USER_VIOLATION, "provider_501", EXIT_FINAL),
        ("1:500", 1, ErrorClass.TEMPORARY, "provider_500", EXIT_RETRYABLE),
    ],
)
async def test_sandbox_scripted_failures(
    script: str, attempt: int, error_class: ErrorClass, code: str, exit_code: int, make_settings, storage
) -> None:
    result = await run_generation(request(attempt=attempt), make_settings(sandbox_failures=script), storage)
    assert (result.error_class, result.code, result.exit_code) == (error_class, code, exit_code)
    assert not storage.exists(video_key(NAME))


async def test_sandbox_scripted_failure_then_success(make_settings, storage) -> None:
    settings = make_settings(sandbox_failures="1:500")
    assert not (await run_generation(request(attempt=1), settings, storage)).ok
    assert (await run_generation(request(attempt=2), settings, storage)).ok


async def test_bad_failure_script_is_a_config_failure(make_settings, storage) -> None:
    result = await run_generation(request(), make_settings(sandbox_failures="first:boom"), storage)
    assert (result.error_class, result.code, result.exit_code) == (ErrorClass.BILLING, "config", EXIT_FINAL)
    assert "VIDGEN_SANDBOX_FAILURES" in (result.detail or "")
