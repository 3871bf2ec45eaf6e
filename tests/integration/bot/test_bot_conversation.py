"""Scripted conversations through the real Dispatcher, asserted on what the fake Bot API received
and on the database: signup, photo → prompt → confirm → launch, Generate again, balance, history,
languages."""

from __future__ import annotations

from sqlalchemy import update

from tests.integration.bot.harness import CAT, USER, Harness
from vidgen.core.db.models import Generation
from vidgen.core.models import photo_key, video_key
from vidgen.core.texts import t


async def test_signup_grants_two_credits_and_shows_the_menu(harness: Harness) -> None:
    await harness.text(USER, "/start")
    assert await harness.balance(USER) == 2
    [bonus] = await harness.entries(USER)
    assert (bonus.kind, bonus.delta) == ("signup_bonus", 2)
    texts = harness.texts(USER)
    assert texts[0] == t("start.welcome", "en", free=2, cost=1)
    assert texts[1] == t("menu.text", "en", balance=2)
    labels = [b["text"] for b in harness.buttons(harness.last("sendMessage", USER))]
    assert labels == [
        t(f"button.{key}", "en") for key in ("create", "balance", "buy", "history", "help", "invite")
    ]
    # A later /start shows the menu only, and grants nothing.
    await harness.text(USER, "/start")
    assert await harness.balance(USER) == 2
    assert harness.texts(USER)[-1] == t("menu.text", "en", balance=2)
    assert len(await harness.events("user_registered")) == 1


async def test_photo_prompt_confirm_launches_with_the_right_spec_and_one_debit(harness: Harness) -> None:
    confirm = await harness.prepare(USER, prompt="a cat dancing in the rain", message_id=500)
    confirm_screen = harness.last("editMessageText", USER)
    assert "Cost: 1 credit. Balance: 2 credits." in confirm_screen.params["text"]
    assert harness.launcher.calls == []

    await harness.tap(USER, confirm, message_id=500)

    [spec] = harness.launcher.specs
    assert spec.user_id == USER and spec.chat_id == USER
    assert spec.prompt == "a cat dancing in the rain"
    assert spec.model == "sora-2-image-to-video" and spec.aspect_ratio == "portrait"
    assert spec.duration_seconds == 10 and spec.language == "en"
    assert spec.status_message_id == 500  # the confirm message became the progress message
    assert spec.photo == photo_key(spec.name) and spec.name.startswith(f"vg-{USER}-")
    assert harness.storage.get(spec.photo) == CAT  # a Telegram photo is JPEG: stored as sent
    assert spec.requested_at and spec.requested_at.endswith("Z")

    assert await harness.balance(USER) == 1
    [debit] = await harness.entries(USER, "debit")
    assert (debit.delta, debit.ref) == (-1, spec.name)
    [row] = await harness.generations()
    assert (row.name, row.phase, row.status_message_id, row.cost) == (spec.name, "Pending", 500, 1)
    [outbox] = await harness.outbox()
    assert outbox.processed_at is not None and outbox.payload["status_message_id"] == 500
    assert len(await harness.events("generation_requested")) == 1
    assert len(await harness.events("photo_received")) == 1

    progress = harness.last("editMessageText", USER)
    assert progress.params["message_id"] == "500"
    assert progress.params["text"] == t("progress.pending", "en")
    assert t("create.accepted", "en", balance=1) in [a.get("text") for a in harness.answers()]


async def test_let_ai_write_it_and_options(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER)
    await harness.tap(USER, "prompt:auto", message_id=300)
    options = harness.last("editMessageText", USER)
    assert t("create.prompt_auto", "en") in options.params["text"]
    assert harness.button(USER, "opt:model:veo3") == "opt:model:veo3_fast"
    await harness.tap(USER, "opt:model:veo3_fast", message_id=300)
    await harness.tap(USER, "opt:aspect:landscape", message_id=300)
    marked = [
        b["text"]
        for b in harness.buttons(harness.last("editMessageText", USER))
        if b["text"].startswith("✅")
    ]
    assert marked == ["✅ Veo 3.1 Fast", "✅ " + t("aspect.landscape", "en"), "✅ " + t("style.none", "en")]
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=300)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=300)
    [spec] = harness.launcher.specs
    assert (spec.prompt, spec.model, spec.aspect_ratio, spec.duration_seconds) == (
        "",
        "veo3_fast",
        "landscape",
        8,
    )


async def test_caption_is_the_prompt(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="waves at the camera")
    assert "waves at the camera" in harness.texts(USER)[-1]
    await harness.tap(USER, harness.button(USER, "opt:next"), message_id=7)
    await harness.tap(USER, harness.button(USER, "confirm:"), message_id=7)
    assert harness.launcher.specs[0].prompt == "waves at the camera"


async def test_generate_again_reuses_photo_and_prompt_with_a_new_debit(harness: Harness) -> None:
    confirm = await harness.prepare(USER, prompt="spin around")
    await harness.tap(USER, confirm, message_id=500)
    [first] = harness.launcher.specs

    # The operator delivers the video with the "again:<name>" button; the user taps it.
    await harness.tap(USER, f"again:{first.name}", message_id=800)
    screen = harness.last("sendMessage", USER)
    assert "spin around" in screen.params["text"] and "Balance: 1 credit." in screen.params["text"]
    await harness.tap(USER, harness.callback(screen, "confirm:"), message_id=801)

    second = harness.launcher.specs[1]
    assert second.name != first.name
    assert second.prompt == "spin around" and second.status_message_id == 801
    assert harness.storage.get(second.photo) == harness.storage.get(first.photo)
    assert await harness.balance(USER) == 0
    assert [e.ref for e in await harness.entries(USER, "debit")] == [first.name, second.name]

    # Someone else's generation cannot be repeated.
    await harness.text(202, "/start")
    await harness.tap(202, f"again:{first.name}", message_id=5)
    assert harness.texts(202)[-1] == t("input.unknown_generation", "en")
    assert len(harness.launcher.specs) == 2


async def test_too_few_credits_offers_the_stars_packages(harness: Harness) -> None:
    for _ in range(2):
        confirm = await harness.prepare(USER)
        await harness.tap(USER, confirm, message_id=500)
    assert await harness.balance(USER) == 0
    confirm = await harness.prepare(USER)
    screen = harness.last("editMessageText", USER)
    assert t("create.need_credits", "en", balance=0, needed=1) in screen.params["text"]
    assert any(b["callback_data"].startswith("buy:") for b in harness.buttons(screen))
    await harness.tap(USER, confirm, message_id=500)
    offer = harness.last("sendMessage", USER)
    assert offer.params["text"].startswith(t("error.insufficient_credits", "en", balance=0, needed=1))
    assert [b["callback_data"] for b in harness.buttons(offer)][:3] == ["buy:p5", "buy:p12", "buy:p30"]
    assert len(harness.launcher.specs) == 2 and await harness.balance(USER) == 0
    assert len(await harness.generations()) == 2


async def test_balance_view(harness: Harness) -> None:
    await harness.tap(USER, "menu:balance", message_id=10)
    screen = harness.last("editMessageText", USER)
    text = screen.params["text"]
    assert text.startswith(t("balance.text", "en", balance=2, videos=2, cost=1))
    assert t("ledger.signup_bonus", "en") in text
    assert harness.callback(screen, "menu:buy") == "menu:buy"
    await harness.text(USER, "/balance")
    assert harness.texts(USER)[-1] == text


async def test_history_lists_videos_and_sends_a_delivered_one_again(harness: Harness) -> None:
    await harness.text(USER, "/history")
    assert harness.texts(USER)[-1] == t("history.empty", "en")
    for prompt in ("first video", "second video"):
        await harness.tap(USER, await harness.prepare(USER, prompt=prompt), message_id=500)
    first, second = harness.launcher.specs
    # The operator mirrors: the first was delivered (with a cached file id), the second failed.
    async with harness.sessions() as session, session.begin():
        await session.execute(
            update(Generation)
            .where(Generation.name == first.name)
            .values(phase="Delivered", video_key=video_key(first.name), telegram_file_id="video-cached-1")
        )
        await session.execute(
            update(Generation).where(Generation.name == second.name).values(phase="Failed", refunded=True)
        )
    await harness.tap(USER, "menu:history", message_id=20)
    screen = harness.last("editMessageText", USER)
    text = screen.params["text"]
    assert text.splitlines()[0] == t("history.title", "en")
    assert "second video" in text.splitlines()[1] and t("phase.Failed", "en") in text
    assert t("history.refunded", "en") in text
    assert "first video" in text and t("phase.Delivered", "en") in text
    # Only the delivered one can be sent again (file storage signs no download links).
    send = [b for b in harness.buttons(screen) if b.get("callback_data", "").startswith("hist:")]
    assert [b["callback_data"] for b in send] == [f"hist:send:{first.name}"]
    assert not any("url" in b for b in harness.buttons(screen))
    await harness.tap(USER, f"hist:send:{first.name}", message_id=20)
    video = harness.last("sendVideo", USER)
    assert video.params["video"] == "video-cached-1"
    assert harness.callback(video, "again:") == f"again:{first.name}"


async def test_history_uploads_from_storage_without_a_file_id(harness: Harness) -> None:
    await harness.tap(USER, await harness.prepare(USER), message_id=500)
    [spec] = harness.launcher.specs
    harness.storage.put(video_key(spec.name), b"MP4-BYTES")
    async with harness.sessions() as session, session.begin():
        await session.execute(
            update(Generation)
            .where(Generation.name == spec.name)
            .values(phase="Delivered", video_key=video_key(spec.name))
        )
    await harness.tap(USER, f"hist:send:{spec.name}", message_id=20)
    assert harness.last("sendVideo", USER).files["video"] == b"MP4-BYTES"
    [row] = await harness.generations()
    assert row.telegram_file_id and row.telegram_file_id.startswith("video-")


async def test_russian_user_gets_russian_and_can_switch_language(harness: Harness) -> None:
    await harness.text(USER, "/start", language="ru")
    assert harness.texts(USER)[0] == t("start.welcome", "ru", free=2, cost=1)
    assert harness.texts(USER)[1] == t("menu.text", "ru", balance=2)
    await harness.text(USER, "/nonsense", language="ru")
    assert harness.texts(USER)[-1] == t("unknown_command", "ru")
    await harness.tap(USER, "lang:en", message_id=3, language="ru")
    assert harness.last("editMessageText", USER).params["text"] == t("menu.text", "en", balance=2)
    # The chosen language sticks, whatever Telegram's language_code says.
    await harness.text(USER, "/help", language="ru")
    assert harness.texts(USER)[-1].startswith(
        t("help.text", "en", free=2, cost=1, max_mb=10, limit=1000)[:20]
    )


async def test_cancel_and_stray_messages(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.text(USER, "hello")
    assert harness.texts(USER)[-1] == t("fallback", "en")
    await harness.tap(USER, "menu:create", message_id=40)
    assert harness.last("editMessageText", USER).params["text"] == t("create.send_photo", "en", max_mb=10)
    await harness.text(USER, "just text")
    assert harness.texts(USER)[-1] == t("input.not_a_photo", "en")
    await harness.photo(USER)
    await harness.tap(USER, "cancel", message_id=41)
    assert harness.last("editMessageText", USER).params["text"] == t("create.cancelled", "en")
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
