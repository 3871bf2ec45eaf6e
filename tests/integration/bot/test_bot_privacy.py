"""Privacy: /forget deletes a user's photos, videos, prompts and history after a confirmation (the
ledger stays, without content); the retention sweeper deletes content older than the retention
period; /terms says what is kept and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.integration.bot.harness import USER, Harness
from tests.integration.bot.test_bot_honest_money import money_is_right
from vidgen.bot.retention import RetentionSweeper
from vidgen.core.db.models import Generation
from vidgen.core.models import checkpoint_key, video_key
from vidgen.core.texts import t


def stored_for(harness: Harness, user_id: int) -> list[str]:
    """Every stored object whose key names one of the user's requests."""
    root = harness.storage.root if hasattr(harness.storage, "root") else None
    assert root is not None
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and f"vg-{user_id}-" in p.name
    )


async def delivered(harness: Harness, name: str, *, days_ago: int = 0) -> None:
    """What the operator leaves for a delivered video: the video stored, its checkpoint, the
    enhanced prompt, Telegram's file id."""
    harness.storage.put(video_key(name), b"mp4", "video/mp4")
    harness.storage.put(checkpoint_key(name), b"{}", "application/json")
    async with harness.sessions() as session:
        await session.execute(
            update(Generation)
            .where(Generation.name == name)
            .values(
                phase="Delivered",
                enhanced_prompt="a cinematic cat dancing",
                telegram_file_id="file-xyz",
                video_key=video_key(name),
                created_at=datetime.now(UTC) - timedelta(days=days_ago),
            )
        )
        await session.commit()


async def test_forget_deletes_content_and_history_but_keeps_the_ledger(harness: Harness) -> None:
    confirm = await harness.prepare(USER, "my face, smiling")
    await harness.tap(USER, confirm, message_id=500)
    [gen] = await harness.generations()
    await delivered(harness, gen.name)
    await harness.photo(USER)  # a draft never confirmed
    await harness.text(USER, "/start")
    assert len(stored_for(harness, USER)) == 4  # two photos, a video, a checkpoint
    entries_before = [(e.kind, e.delta, e.ref) for e in await harness.entries(USER)]

    await harness.text(USER, "/forget")
    assert harness.texts(USER)[-1] == t("forget.ask", "en", days=30)
    await harness.tap(USER, harness.button(USER, "forget:yes"), message_id=600)
    assert harness.last("editMessageText", USER).params["text"] == t("forget.done", "en", videos=1)

    assert stored_for(harness, USER) == []
    [gen] = await harness.generations()
    assert (gen.prompt, gen.enhanced_prompt, gen.error_message, gen.telegram_file_id) == (
        "",
        None,
        None,
        None,
    )
    assert gen.purged_at is not None
    assert [(e.kind, e.delta, e.ref) for e in await harness.entries(USER)] == entries_before
    assert await harness.balance(USER) == 1
    await harness.text(USER, "/history")
    assert harness.texts(USER)[-1] == t("history.empty", "en")
    await money_is_right(harness)


async def test_forget_leaves_videos_in_progress_and_says_so(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    await harness.tap(USER, confirm, message_id=500)
    await harness.text(USER, "/forget")
    await harness.tap(USER, harness.button(USER, "forget:yes"), message_id=600)
    text = harness.last("editMessageText", USER).params["text"]
    assert t("forget.in_progress", "en", videos=1) in text
    [gen] = await harness.generations()
    assert harness.storage.exists(gen.photo_key)  # still needed to make the video


async def test_forget_cancelled_deletes_nothing(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER)
    await harness.text(USER, "/forget")
    await harness.tap(USER, harness.button(USER, "forget:no"), message_id=600)
    assert harness.last("editMessageText", USER).params["text"] == t("forget.kept", "en")
    assert len(stored_for(harness, USER)) == 1


async def test_retention_deletes_old_content_only(harness: Harness) -> None:
    for days_ago, user in ((31, USER), (5, USER + 1)):
        confirm = await harness.prepare(user, f"prompt of {user}")
        await harness.tap(user, confirm, message_id=500)
        name = next(g.name for g in await harness.generations() if g.user_id == user)
        await delivered(harness, name, days_ago=days_ago)
    sweeper = RetentionSweeper(harness.settings, harness.sessions, harness.storage)
    report = await sweeper.sweep_once()
    assert report.purged == 1
    assert stored_for(harness, USER) == [] and len(stored_for(harness, USER + 1)) == 3
    old, young = sorted(await harness.generations(), key=lambda g: g.user_id)
    assert old.prompt == "" and old.purged_at is not None
    assert young.prompt == f"prompt of {USER + 1}" and young.purged_at is None
    # A draft photo older than the retention period goes too (the sweeper's clock moved on).
    later = RetentionSweeper(
        harness.settings,
        harness.sessions,
        harness.storage,
        clock=lambda: datetime.now(UTC) + timedelta(days=31),
    )
    await harness.photo(USER + 2)
    assert len(stored_for(harness, USER + 2)) == 1
    report = await later.sweep_once()
    assert stored_for(harness, USER + 2) == [] and report.drafts == 1
    assert stored_for(harness, USER + 1) == []  # now 36 days old
    await money_is_right(harness)


async def test_terms_say_what_is_kept(harness: Harness) -> None:
    await harness.text(USER, "/terms", language="ru")
    assert t("terms.privacy", "ru", days=30) in harness.texts(USER)[-1]
    assert "30 дней" in harness.texts(USER)[-1]
