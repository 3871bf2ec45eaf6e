"""Bad input gets a clear message and costs nothing: stickers, voice, video, PDFs, oversized or
unreadable images, over-long prompts, unknown buttons, blocked users."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.integration.bot.harness import ADMIN, USER, Harness
from vidgen.core.texts import t


def media_update(harness: Harness, **content: Any) -> dict[str, Any]:
    return {"message": harness.tg.message(USER, **content)}


FILE = {"file_id": "f1", "file_unique_id": "uf1", "file_size": 1000}


@pytest.mark.parametrize(
    "content",
    [
        {
            "sticker": {
                **FILE,
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"voice": {**FILE, "duration": 3}},
        {"video": {**FILE, "width": 640, "height": 480, "duration": 5}},
        {"video_note": {**FILE, "length": 240, "duration": 5}},
        {"audio": {**FILE, "duration": 30}},
        {
            "animation": {**FILE, "width": 320, "height": 240, "duration": 2},
            "document": {**FILE, "mime_type": "video/mp4"},
        },
    ],
    ids=["sticker", "voice", "video", "video_note", "audio", "gif"],
)
async def test_not_a_photo(harness: Harness, content: dict[str, Any]) -> None:
    await harness.text(USER, "/start")
    await harness.tap(USER, "menu:create", message_id=3)
    await harness.feed(media_update(harness, **content))
    assert harness.texts(USER)[-1] == t("input.not_a_photo", "en")
    assert not harness.tg.calls_to("getFile")
    assert await harness.balance(USER) == 2


@pytest.mark.parametrize(
    ("mime", "name"), [("application/pdf", "scan.pdf"), ("video/mp4", "clip.mp4"), ("image/gif", "a.gif")]
)
async def test_documents_that_are_not_accepted_images(harness: Harness, mime: str, name: str) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.document_update(USER, b"%PDF-1.4 ...", mime, name))
    assert harness.texts(USER)[-1] == t("input.unsupported_document", "en")
    assert not harness.tg.calls_to("getFile")
    assert await harness.balance(USER) == 2


async def test_image_over_ten_megabytes_is_refused_before_download(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, data=b"\xff" * (10 * 1024 * 1024 + 1))
    assert harness.texts(USER)[-1] == t("input.photo_too_large", "en", max_mb=10)
    await harness.feed(harness.tg.document_update(USER, b"\xff" * (11 * 1024 * 1024), "image/png", "big.png"))
    assert harness.texts(USER)[-1] == t("input.photo_too_large", "en", max_mb=10)
    assert not harness.tg.calls_to("getFile")
    assert not harness.storage.root.exists() or not list(harness.storage.root.rglob("*.jpg"))


async def test_unreadable_image_document(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.feed(harness.tg.document_update(USER, b"not really a jpeg", "image/jpeg", "x.jpg"))
    assert harness.texts(USER)[-1] == t("input.image_unreadable", "en")
    assert await harness.balance(USER) == 2


async def test_png_and_webp_documents_are_accepted_and_stored_as_jpeg(harness: Harness) -> None:
    await harness.text(USER, "/start")
    for fmt, mime in (("PNG", "image/png"), ("WEBP", "image/webp")):
        buffer = io.BytesIO()
        Image.new("RGBA", (64, 48), (200, 30, 30, 128)).save(buffer, fmt)
        await harness.feed(harness.tg.document_update(USER, buffer.getvalue(), mime, f"pic.{fmt.lower()}"))
        assert harness.texts(USER)[-1] == t("create.ask_prompt", "en", limit=1000)
    stored = sorted(harness.storage.root.glob("inputs/*.jpg"))
    assert len(stored) == 2
    for path in stored:
        with Image.open(path) as img:
            assert (img.format, img.size, img.mode) == ("JPEG", (64, 48), "RGB")


async def test_prompt_over_the_limit(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER)
    await harness.text(USER, "x" * 1001)
    assert harness.texts(USER)[-1] == t("input.prompt_too_long", "en", limit=1000)
    # Still waiting for a prompt: a shorter one goes through.
    await harness.text(USER, "x" * 1000)
    assert harness.button(USER, "opt:next")
    await harness.photo(USER, caption="y" * 1001)
    assert harness.texts(USER)[-1] == t("input.prompt_too_long", "en", limit=1000)
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []


async def test_unknown_and_stale_buttons(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.tap(USER, "garbage-data", message_id=9)
    assert harness.answers()[-1] == {
        "callback_query_id": harness.answers()[-1]["callback_query_id"],
        "text": t("unknown_callback", "en"),
        "show_alert": "true",
    }
    await harness.tap(USER, "opt:model:dall-e", message_id=9)  # no request in progress
    assert harness.answers()[-1]["text"] == t("unknown_callback", "en")
    await harness.tap(USER, "confirm:0123456789abcdef", message_id=9)
    assert harness.answers()[-1]["text"] == t("create.stale", "en")
    await harness.photo(USER)
    await harness.tap(USER, "prompt:auto", message_id=9)
    await harness.tap(USER, "opt:model:dall-e", message_id=9)
    assert harness.texts(USER)[-1] == t("input.unknown_model", "en")
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []


async def test_blocked_user_gets_a_clear_message_and_nothing_happens(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    await harness.text(ADMIN, f"/block {USER}")
    assert harness.texts(ADMIN)[-1] == t("admin.blocked", "en", user=USER)
    await harness.tap(USER, confirm, message_id=500)
    assert harness.answers()[-1]["text"] == t("blocked", "en")
    await harness.photo(USER)
    await harness.text(USER, "/start")
    assert harness.texts(USER)[-2:] == [t("blocked", "en")] * 2
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
    await harness.text(ADMIN, f"/unblock {USER}")
    await harness.tap(USER, confirm, message_id=500)
    assert await harness.balance(USER) == 1 and len(harness.launcher.specs) == 1


async def test_unexpected_errors_reach_the_user_as_a_generic_text(harness: Harness) -> None:
    await harness.text(USER, "/start")
    harness.tg.fail("getFile", code=500, description="Internal Server Error")
    await harness.photo(USER)
    # No claim about money that the database did not make: the balance as it is.
    assert harness.texts(USER)[-1] == t("error.generic", "en") + "\n" + t("balance.now", "en", balance=2)
    assert await harness.balance(USER) == 2
