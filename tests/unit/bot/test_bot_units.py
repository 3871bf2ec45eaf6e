"""Pure parts of the bot: drafts, media checks, image normalisation, pre-checkout rules, error
texts, throttling, callback data."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiogram.types import Message
from PIL import Image

from vidgen.bot.callbacks import AgainCallback, ConfirmCallback, HistoryCallback, OptionCallback
from vidgen.bot.errors import error_text
from vidgen.bot.middlewares import ThrottlingMiddleware
from vidgen.bot.services.generation import Draft, media_of
from vidgen.bot.services.payments import PaymentService
from vidgen.core.errors import ErrorClass, InputError, InsufficientCredits, ProviderError
from vidgen.core.settings import Settings
from vidgen.core.texts import t
from vidgen.storage.photos import normalise_image

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
LONGEST_NAME = "vg-9999999999999-0123456789abcdef"


def message(**content: Any) -> Message:
    return Message.model_validate(
        {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, **content}
    )


FILE = {"file_id": "f", "file_unique_id": "u", "file_size": 10}


def test_media_of() -> None:
    photo = message(
        photo=[{**FILE, "width": 1, "height": 1}, {**FILE, "file_id": "big", "width": 9, "height": 9}]
    )
    assert media_of(photo).file_id == "big" and media_of(photo).source == "photo"
    for mime in ("image/jpeg", "image/png", "image/webp", "IMAGE/JPEG"):
        assert media_of(message(document={**FILE, "mime_type": mime})).source == "document"
    with pytest.raises(InputError) as info:
        media_of(message(document={**FILE, "mime_type": "application/pdf"}))
    assert info.value.key == "input.unsupported_document"
    with pytest.raises(InputError) as info:
        media_of(message(text="hi"))
    assert info.value.key == "input.not_a_photo"


def test_draft_options_and_round_trip() -> None:
    draft = Draft("tok", "vg-1-tok", "inputs/vg-1-tok.jpg", prompt="p")
    assert Draft.from_data(draft.to_data()) == draft
    assert Draft.from_data({}) is None and Draft.from_data({"draft": {"bogus": 1}}) is None
    veo = draft.with_option("model", "veo3_fast").with_option("aspect", "landscape")
    assert (veo.model, veo.aspect_ratio) == ("veo3_fast", "landscape")
    for field, value, key in (
        ("model", "dall-e", "input.unknown_model"),
        ("aspect", "square", "input.bad_aspect_ratio"),
        ("colour", "red", "input.bad_option"),
    ):
        with pytest.raises(InputError) as info:
            draft.with_option(field, value)
        assert info.value.key == key


def image(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else (255, 0, 0, 100)).save(out, fmt)
    return out.getvalue()


def test_normalise_image() -> None:
    jpeg = image("JPEG")
    assert normalise_image(jpeg) == jpeg
    for data in (image("PNG", "RGBA"), image("WEBP"), image("PNG", "RGB")):
        with Image.open(io.BytesIO(normalise_image(data))) as out:
            assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (40, 30))
    for bad in (b"", b"GIF89a....", image("GIF"), image("PNG", size=(8, 8)), jpeg[: len(jpeg) // 3]):
        with pytest.raises(InputError) as info:
            normalise_image(bad)
        assert info.value.key == "input.image_unreadable"


def test_pre_checkout_rules() -> None:
    payments = PaymentService(SETTINGS)
    assert payments.check_pre_checkout(payload="p5", currency="XTR", amount=100, blocked=False) is None
    assert payments.check_pre_checkout(payload="p5", currency="XTR", amount=100, blocked=True) == "blocked"
    assert (
        payments.check_pre_checkout(payload="p5", currency="XTR", amount=1, blocked=False)
        == "payment.amount_mismatch"
    )
    assert (
        payments.check_pre_checkout(payload="p5", currency="EUR", amount=100, blocked=False)
        == "payment.amount_mismatch"
    )
    assert (
        payments.check_pre_checkout(payload="zz", currency="XTR", amount=100, blocked=False)
        == "payment.unknown_package"
    )
    invoice = payments.invoice("p30", "Credits")
    assert invoice is not None and [p.amount for p in invoice.prices] == [450] and invoice.payload == "p30"
    assert payments.invoice("nope", "Credits") is None


def test_error_texts() -> None:
    assert error_text(InsufficientCredits(1, 0, 1), "ru", SETTINGS) == t(
        "error.insufficient_credits", "ru", balance=0, needed=1
    )
    assert error_text(InputError("prompt_too_long"), "en", SETTINGS) == t(
        "input.prompt_too_long", "en", limit=1000
    )
    assert error_text(InputError("photo_too_large"), "en", SETTINGS) == t(
        "input.photo_too_large", "en", max_mb=10
    )
    assert error_text(ProviderError(ErrorClass.BILLING, "x"), "en", SETTINGS) == t("error.billing", "en")
    assert error_text(InputError("no_such_code"), "en", SETTINGS) == t("error.generic", "en")
    assert error_text(RuntimeError("secret stack details"), "ru", SETTINGS) == t("error.generic", "ru")


def test_throttling_window() -> None:
    now = [100.0]
    throttle = ThrottlingMiddleware(0.5, clock=lambda: now[0], max_users=2)
    assert throttle._allow(1) and not throttle._allow(1) and throttle._allow(2)
    now[0] += 0.6
    assert throttle._allow(1) and throttle._allow(3)  # the table is pruned, never unbounded
    assert len(throttle._last) <= 2


def test_callback_data_contract_and_size() -> None:
    assert AgainCallback(name=LONGEST_NAME).pack() == f"again:{LONGEST_NAME}"
    assert AgainCallback.unpack(f"again:{LONGEST_NAME}").name == LONGEST_NAME
    for data in (
        AgainCallback(name=LONGEST_NAME),
        HistoryCallback(action="send", name=LONGEST_NAME),
        ConfirmCallback(token="0123456789abcdef"),
        OptionCallback(field="model", value="sora-2-image-to-video"),
    ):
        assert len(data.pack().encode()) <= 64
