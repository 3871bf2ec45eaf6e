"""Bad input never reaches the provider and never becomes a crash: missing photo, non-image,
corrupt, oversized, overlong prompt, bad options → a clear final failure."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.kie import FakeKie
from vidgen.core.errors import ErrorClass
from vidgen.core.models import photo_key, video_key
from vidgen.core.result import EXIT_FINAL, encode
from vidgen.runner.pipeline import RunRequest, run_generation

from .conftest import EXAMPLES, NAME

CAT = (EXAMPLES / "cat.jpg").read_bytes()


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (128, 128)).save(out, "GIF")
    return out.getvalue()


CASES = {
    # name: (photo bytes or None for "missing", request overrides, settings overrides, class, code)
    "missing_photo": (None, {}, {}, ErrorClass.BILLING, "photo_missing"),
    "empty_file": (b"", {}, {}, ErrorClass.USER_VIOLATION, "photo_empty"),
    "not_an_image": (b"%PDF-1.7\n" + b"x" * 500, {}, {}, ErrorClass.USER_VIOLATION, "photo_invalid"),
    "text_file": ("Привет, это не фото".encode() * 20, {}, {}, ErrorClass.USER_VIOLATION, "photo_invalid"),
    "truncated_jpeg": (CAT[: len(CAT) // 2], {}, {}, ErrorClass.USER_VIOLATION, "photo_invalid"),
    "garbled_jpeg": (
        CAT[:200] + bytes(5000) + CAT[5200:],
        {},
        {},
        ErrorClass.USER_VIOLATION,
        "photo_invalid",
    ),
    "oversized": (CAT, {}, {"max_photo_bytes": 10_000}, ErrorClass.USER_VIOLATION, "photo_too_large"),
    "gif": (gif(), {}, {}, ErrorClass.USER_VIOLATION, "photo_format"),
    "tiny": (png((20, 20)), {}, {}, ErrorClass.USER_VIOLATION, "photo_too_small"),
    "overlong_prompt": (CAT, {"prompt": "a" * 1001}, {}, ErrorClass.USER_VIOLATION, "prompt_too_long"),
    "unknown_model": (CAT, {"model": "sora-9"}, {}, ErrorClass.USER_VIOLATION, "unknown_model"),
    "bad_aspect_ratio": (CAT, {"aspect_ratio": "square"}, {}, ErrorClass.USER_VIOLATION, "bad_aspect_ratio"),
    "bad_duration": (CAT, {"duration_seconds": 7}, {}, ErrorClass.USER_VIOLATION, "bad_duration"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_is_a_clear_final_failure(case: str, kie: FakeKie, storage, make_settings) -> None:
    data, req, overrides, error_class, code = CASES[case]
    if data is None:
        storage.delete(photo_key(NAME))
    else:
        storage.put(photo_key(NAME), data)
    result = await run_generation(
        RunRequest(name=NAME, photo=photo_key(NAME), **req), make_settings(kie, **overrides), storage
    )
    assert not result.ok
    assert (result.error_class, result.code) == (error_class, code)
    assert result.exit_code == EXIT_FINAL
    assert result.detail and "Traceback" not in result.detail and 'File "' not in result.detail
    assert kie.requests == []  # nothing was uploaded, nothing was paid for
    assert not storage.exists(video_key(NAME))
    line = json.loads(encode(result))
    assert line == {
        "ok": False,
        "class": str(error_class),
        "code": code,
        "detail": result.detail,
        "rateLimitRetries": 0,
    }


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
async def test_png_and_webp_photos_are_accepted(
    fmt: str, kie: FakeKie, storage, make_settings, tmp_path: Path
) -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(CAT)).save(out, fmt)
    storage.put(photo_key(NAME), out.getvalue())
    result = await run_generation(RunRequest(name=NAME, photo=photo_key(NAME)), make_settings(kie), storage)
    assert result.ok, result
    (upload,) = kie.calls("upload")
    assert upload.body["fileName"] == f"{NAME}.{fmt.lower()}"


async def test_storage_crash_is_a_result_not_a_trace(kie: FakeKie, storage, make_settings) -> None:
    class Broken:
        def __getattr__(self, name: str):
            def fail(*args: object, **kwargs: object) -> None:
                raise RuntimeError("disk on fire")

            return fail

    result = await run_generation(RunRequest(name=NAME, photo=photo_key(NAME)), make_settings(kie), Broken())  # type: ignore[arg-type]
    assert (result.error_class, result.code) == (ErrorClass.UNKNOWN, "exception")
    assert result.detail == "disk on fire"
