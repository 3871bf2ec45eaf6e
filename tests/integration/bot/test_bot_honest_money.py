"""Every message about money says what the database says: a Telegram error after Confirm's
commit never skips the launch nor claims "nothing was charged"; Cancel on a paid request says it
is on its way; an update delivered twice (in a row or at once) is handled once."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

from sqlalchemy import func, select

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import USER, Harness, make_harness
from vidgen.bot.app import COMMANDS
from vidgen.bot.services import GenerationService
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.models import CreditEntry, User
from vidgen.core.texts import LANGUAGES, t

NOTHING_CHARGED = ("Nothing was charged", "Ничего не списано")


async def money_is_right(harness: Harness) -> None:
    """balance == sum of entries for every user; one debit per generation; refund iff not delivered."""
    async with harness.sessions() as session:
        users = (await session.scalars(select(User))).all()
        for user in users:
            total = await session.scalar(
                select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(CreditEntry.user_id == user.id)
            )
            assert user.balance == total, user.id
    debits = await harness.entries(kind="debit")
    assert len({d.ref for d in debits}) == len(debits) == len(await harness.generations())


def no_false_claim(harness: Harness) -> None:
    for text in harness.texts(USER):
        assert not any(claim in text for claim in NOTHING_CHARGED), text


async def test_a_429_on_the_confirm_edit_after_the_commit_still_launches(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    harness.tg.fail("editMessageText", times=5, code=429, retry_after=30)
    harness.tg.fail("answerCallbackQuery", times=5, code=500)
    await harness.tap(USER, confirm, message_id=500)
    assert await harness.balance(USER) == 1
    assert len(harness.launcher.specs) == 1
    [row] = await harness.outbox()
    assert row.processed_at is not None  # launched by the handler, not left to the sweeper
    no_false_claim(harness)
    # Cancel on the still-visible confirm message: the request is paid and on its way.
    cancel = harness.callback(harness.screen(USER), "cancel")
    assert cancel.endswith(confirm.split(":", 1)[1])
    harness.tg.faults.clear()
    await harness.tap(USER, cancel, message_id=500)
    assert harness.last("editMessageText", USER).params["text"] == t("create.on_its_way", "en", balance=1)
    assert await harness.balance(USER) == 1 and len(harness.launcher.specs) == 1
    no_false_claim(harness)
    await money_is_right(harness)


async def test_cancel_before_confirm_charges_nothing_and_says_so(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    cancel = harness.callback(harness.screen(USER), "cancel")
    await harness.tap(USER, cancel, message_id=500)
    assert harness.last("editMessageText", USER).params["text"] == t("create.cancelled", "en")
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
    # The old confirm button no longer debits.
    await harness.tap(USER, confirm, message_id=500)
    assert await harness.balance(USER) == 2 and harness.launcher.calls == []
    await money_is_right(harness)


async def test_cancel_command_after_a_paid_confirm_says_it_is_on_its_way(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    await harness.tap(USER, confirm, message_id=500)
    await harness.text(USER, "/cancel")
    assert harness.texts(USER)[-1] == t("create.cancelled_plain", "en")  # the state was cleared
    no_false_claim(harness)


class FailingAfterCommit(GenerationService):
    """A bug after the commit: the launch raises something that is not Telegram's."""

    async def launch(self, session, spec):  # type: ignore[no-untyped-def]
        await super().launch(session, spec)
        raise RuntimeError("a bug after the commit")


async def test_an_error_after_the_commit_says_the_request_is_on_its_way(
    tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path
) -> None:
    harness = make_harness(tg, pg_sessions, tmp_path)
    from vidgen.bot.dispatcher import create_dispatcher

    harness.dp = create_dispatcher(
        harness.settings,
        sessions=pg_sessions,
        storage=harness.storage,
        launcher=harness.launcher,
        generation=FailingAfterCommit(harness.settings, harness.storage, harness.launcher),
    )
    try:
        confirm = await harness.prepare(USER)
        await harness.tap(USER, confirm, message_id=500)
        assert await harness.balance(USER) == 1 and len(harness.launcher.specs) == 1
        assert harness.texts(USER)[-1] == t("create.already", "en") + "\n" + t("balance.now", "en", balance=1)
        no_false_claim(harness)
        await money_is_right(harness)
    finally:
        await harness.bot.session.close()


async def test_the_same_update_at_once_is_handled_once(harness: Harness) -> None:
    confirm = await harness.prepare(USER)
    update = harness.stamp(harness.tg.callback_update(USER, confirm, message_id=500))
    await asyncio.gather(*(harness.feed(copy.deepcopy(update)) for _ in range(4)))
    assert await harness.balance(USER) == 1
    assert len(harness.launcher.specs) == 1
    answered = [a for a in harness.answers() if a.get("callback_query_id") == update["callback_query"]["id"]]
    assert len(answered) == 1
    await money_is_right(harness)


async def test_tapping_the_selected_option_sends_nothing_new(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.photo(USER, caption="a cat")
    sent = len(harness.tg.calls_to("sendMessage"))
    edits = len(harness.tg.calls_to("editMessageText"))
    await harness.tap(USER, "opt:aspect:portrait", message_id=77)  # already selected
    assert len(harness.tg.calls_to("sendMessage")) == sent
    assert len(harness.tg.calls_to("editMessageText")) == edits
    await harness.tap(USER, "opt:aspect:landscape", message_id=77)
    assert len(harness.tg.calls_to("editMessageText")) == edits + 1


def test_the_dead_button_text_points_to_a_registered_command() -> None:
    assert "start" in COMMANDS
    for lang in LANGUAGES:
        text = t("unknown_callback", lang)
        assert "/start" in text and "/menu" not in text
