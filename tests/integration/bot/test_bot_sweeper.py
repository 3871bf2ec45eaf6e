"""The outbox sweeper: a flow killed between the commit and the launch loses nothing (the sweeper
launches it, once), and a generation that cannot be launched is refunded and the user told."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from tests.integration.bot.harness import USER, Harness, bot_settings
from vidgen.bot.sweeper import OutboxSweeper
from vidgen.core.db.models import Generation
from vidgen.core.models import GenerationSpec
from vidgen.core.texts import t


async def kill_between_commit_and_launch(harness: Harness) -> None:
    """Confirm, and kill the handler while it is launching (after the commit)."""
    confirm = await harness.prepare(USER)
    harness.launcher.hang = True
    task = asyncio.create_task(harness.tap(USER, confirm, message_id=500))
    await asyncio.wait_for(harness.launcher.entered.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    harness.launcher.hang = False


async def test_a_flow_killed_after_the_commit_is_launched_by_the_sweeper(harness: Harness) -> None:
    await kill_between_commit_and_launch(harness)
    assert harness.launcher.specs == []
    assert await harness.balance(USER) == 1
    [row] = await harness.outbox()
    assert row.processed_at is None and row.attempts == 0

    sweeper = OutboxSweeper(harness.settings, harness.sessions, harness.launcher, harness.bot)
    report = await sweeper.sweep_once()
    [spec] = harness.launcher.specs
    assert report.launched == [spec.name]
    assert spec.status_message_id == 500 and spec.prompt == "a cat dancing in the rain"
    assert spec == GenerationSpec(**row.payload)
    [row] = await harness.outbox()
    assert row.processed_at is not None
    assert (await sweeper.sweep_once()).launched == []  # nothing left
    assert await harness.balance(USER) == 1 and len(await harness.entries(USER, "debit")) == 1


async def test_young_rows_are_left_to_the_handler(harness: Harness) -> None:
    await kill_between_commit_and_launch(harness)
    settings = bot_settings(outbox_grace_seconds=3600)
    report = await OutboxSweeper(settings, harness.sessions, harness.launcher, harness.bot).sweep_once()
    assert report.launched == [] and harness.launcher.specs == []


async def test_unlaunchable_generation_is_refunded_after_max_attempts(harness: Harness) -> None:
    harness.launcher.fail_next = 100
    confirm = await harness.prepare(USER)
    await harness.tap(USER, confirm, message_id=500)  # attempt 1 fails in the handler
    assert await harness.balance(USER) == 1
    sweeper = OutboxSweeper(harness.settings, harness.sessions, harness.launcher, harness.bot)
    first = await sweeper.sweep_once()  # attempt 2
    assert first.failed and not first.refunded
    second = await sweeper.sweep_once()  # attempt 3 = outbox_max_attempts: refund
    [name] = second.refunded
    assert await harness.balance(USER) == 2
    [refund] = await harness.entries(USER, "refund")
    assert (refund.delta, refund.ref) == (1, name)
    [gen] = await harness.generations()
    assert gen.refunded and gen.phase == "Failed" and gen.error_code == "launch_failed"
    [event] = await harness.events("credits_refunded")
    assert event.generation == name
    [row] = await harness.outbox()
    assert row.processed_at is not None and row.attempts == 3 and "unreachable" in (row.last_error or "")
    assert harness.texts(USER)[-2:] == [
        t("progress.failed", "en", reason=t("error.launch", "en")),
        t("refund.done", "en", balance=2),
    ]
    assert harness.last("editMessageText", USER).params["message_id"] == "500"
    assert (await sweeper.sweep_once()).refunded == []
    assert await harness.balance(USER) == 2 and harness.launcher.specs == []


async def test_rows_of_generations_already_running_are_just_closed(harness: Harness) -> None:
    await kill_between_commit_and_launch(harness)
    async with harness.sessions() as session, session.begin():
        await session.execute(update(Generation).values(phase="Queued"))
    report = await OutboxSweeper(
        harness.settings, harness.sessions, harness.launcher, harness.bot
    ).sweep_once()
    assert len(report.skipped) == 1 and harness.launcher.specs == []
    assert (await harness.outbox())[0].processed_at is not None


async def test_two_sweepers_never_launch_the_same_row_at_once(harness: Harness) -> None:
    await kill_between_commit_and_launch(harness)
    launcher = harness.launcher
    original = launcher.launch

    async def slow_launch(spec: GenerationSpec) -> None:
        await asyncio.sleep(0.2)
        await original(spec)

    launcher.launch = slow_launch  # type: ignore[method-assign]
    before = len(launcher.calls)
    sweepers = [OutboxSweeper(harness.settings, harness.sessions, launcher, harness.bot) for _ in range(2)]
    reports = await asyncio.gather(*(s.sweep_once() for s in sweepers))
    assert sorted(len(r.launched) for r in reports) == [0, 1]
    assert len(launcher.calls) - before == 1


async def test_run_loop_stops(harness: Harness) -> None:
    await kill_between_commit_and_launch(harness)
    settings = bot_settings(outbox_sweep_interval_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(
        OutboxSweeper(settings, harness.sessions, harness.launcher, harness.bot).run(stop)
    )
    for _ in range(100):
        if harness.launcher.specs:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(harness.launcher.specs) == 1
