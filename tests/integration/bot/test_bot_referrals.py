"""Referrals: a personal invite link in the menu; a bonus for both when the invited user makes a
first video, capped per inviter per day and in all; never for self-invites, unknown inviters or
users who existed before; a bonus claimed twice at once is paid once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import USER, Harness, bot_settings, make_harness
from tests.integration.bot.test_bot_honest_money import money_is_right
from vidgen.core.db.engine import SessionMaker
from vidgen.core.texts import t

FRIEND = 202


async def bonuses(harness: Harness, user_id: int) -> list[int]:
    return [e.delta for e in await harness.entries(user_id, "referral_bonus")]


async def test_invite_link_signup_and_bonus_for_both_on_the_first_video(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.tap(USER, "menu:invite", message_id=10)
    invite = harness.last("editMessageText", USER).params["text"]
    assert f"https://t.me/vidgen_test_bot?start=ref{USER}" in invite
    assert "Invited so far: 0" in invite

    await harness.text(FRIEND, f"/start ref{USER}")
    assert harness.texts(FRIEND)[-2] == t("referral.welcome", "en", amount=1)
    confirm = await harness.prepare(FRIEND)
    await harness.tap(FRIEND, confirm, message_id=500)
    assert await bonuses(harness, FRIEND) == [1] and await bonuses(harness, USER) == [1]
    assert await harness.balance(FRIEND) == 2  # 2 free - 1 video + 1 bonus
    assert await harness.balance(USER) == 3
    assert t("referral.invitee_bonus", "en", amount=1, balance=2) in harness.texts(FRIEND)
    assert harness.texts(USER)[-1] == t("referral.inviter_bonus", "en", amount=1, balance=3)
    # A second video pays nothing more.
    confirm = await harness.prepare(FRIEND, "again")
    await harness.tap(FRIEND, confirm, message_id=500)
    assert await bonuses(harness, FRIEND) == [1] and await bonuses(harness, USER) == [1]
    await harness.tap(USER, "menu:invite", message_id=10)
    assert "Invited so far: 1; bonuses earned: 1" in harness.last("editMessageText", USER).params["text"]
    await money_is_right(harness)


async def test_self_unknown_and_existing_users_get_no_bonus(harness: Harness) -> None:
    await harness.text(USER, f"/start ref{USER}")  # a new user with their own id: self
    assert harness.texts(USER)[-2] == t("referral.self", "en", amount=1)
    await harness.text(FRIEND, "/start ref999999")
    assert harness.texts(FRIEND)[-2] == t("referral.unknown", "en", amount=1)
    await harness.text(FRIEND, f"/start ref{USER}")  # existed before
    assert harness.texts(FRIEND)[-2] == t("referral.existing", "en", amount=1)
    await harness.text(FRIEND, "/start refnonsense")  # not an id: an ordinary /start
    for user in (USER, FRIEND):
        confirm = await harness.prepare(user)
        await harness.tap(user, confirm, message_id=500)
    assert await harness.entries(kind="referral_bonus") == []
    await money_is_right(harness)


async def test_the_bonus_claimed_twice_at_once_is_paid_once(harness: Harness) -> None:
    await harness.text(USER, "/start")
    await harness.text(FRIEND, f"/start ref{USER}")
    from vidgen.core.db import referrals

    async def claim() -> None:
        async with harness.sessions() as session:
            await referrals.reward(session, FRIEND, bonus=1, daily_cap=5, total_cap=50)
            await session.commit()

    results = await asyncio.gather(claim(), claim(), claim(), return_exceptions=True)
    assert all(r is None for r in results), results
    assert await bonuses(harness, FRIEND) == [1] and await bonuses(harness, USER) == [1]
    await money_is_right(harness)


async def test_the_inviter_is_capped(tg: FakeTelegram, pg_sessions: SessionMaker, tmp_path: Path) -> None:
    harness = make_harness(
        tg, pg_sessions, tmp_path, settings=bot_settings(referral_daily_cap=2, referral_total_cap=3)
    )
    try:
        await harness.text(USER, "/start")
        friends = [300 + i for i in range(4)]
        for friend in friends:
            await harness.text(friend, f"/start ref{USER}")
            confirm = await harness.prepare(friend)
            await harness.tap(friend, confirm, message_id=500)
        assert await bonuses(harness, USER) == [1, 1]  # two a day
        for friend in friends:
            assert await bonuses(harness, friend) == [1]  # the invitees always get theirs
        await money_is_right(harness)
    finally:
        await harness.bot.session.close()


async def test_the_inviter_is_capped_in_all(harness: Harness) -> None:
    from vidgen.core.db import referrals

    await harness.text(USER, "/start")
    paid = []
    for i in range(5):
        friend = 400 + i
        await harness.text(friend, f"/start ref{USER}")
        async with harness.sessions() as session:
            rewarded = await referrals.reward(session, friend, bonus=1, daily_cap=100, total_cap=3)
            await session.commit()
        assert rewarded is not None and rewarded.invitee_balance is not None
        paid.append(rewarded.inviter_balance is not None)
    assert paid == [True, True, True, False, False]
    assert len(await bonuses(harness, USER)) == 3
    await money_is_right(harness)
