"""Admin commands: grants in the ledger with actor and reason (once per command message), stats,
user lookup, block/unblock — and no hint of any of it for non-admins."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import update

from tests.integration.bot.harness import ADMIN, USER, Harness
from vidgen.core.db.models import Generation
from vidgen.core.texts import t


@pytest.mark.parametrize(
    "command", ["/grant 101 5 because", "/stats", "/user 101", "/block 101", "/refund x"]
)
async def test_non_admins_get_the_unknown_command_reply(harness: Harness, command: str) -> None:
    await harness.text(USER, "/start")
    await harness.text(202, "/start")
    await harness.text(202, "/no_such_command")
    unknown = harness.texts(202)[-1]
    await harness.text(202, command)
    assert harness.texts(202)[-1] == unknown == t("unknown_command", "en")
    assert await harness.balance(USER) == 2
    assert len(await harness.entries(kind="admin_grant")) == 0
    assert not harness.tg.calls_to("refundStarPayment")


async def test_admin_grant_is_in_the_ledger_with_actor_and_reason_once(harness: Harness) -> None:
    await harness.text(USER, "/start")
    grant = harness.stamp(harness.tg.text_update(ADMIN, f"/grant {USER} 5 compensation for a failed video"))
    await harness.feed(copy.deepcopy(grant))
    await harness.feed(copy.deepcopy(grant))  # the same update replayed
    [entry] = await harness.entries(USER, "admin_grant")
    assert entry.delta == 5
    assert entry.actor == f"admin:{ADMIN}"
    assert entry.reason == "compensation for a failed video"
    assert entry.ref == f"tg:{ADMIN}:{grant['message']['message_id']}"
    assert await harness.balance(USER) == 7
    # The replayed update (same update_id) is skipped before any handler: one reply.
    assert harness.texts(ADMIN)[-1] == t("admin.granted", "en", amount=5, user=USER, balance=7)
    assert harness.texts(ADMIN).count(harness.texts(ADMIN)[-1]) == 1
    assert harness.texts(USER)[-1] == t("grant.received", "en", amount=5, balance=7)
    [event] = await harness.events("credits_granted")
    assert event.properties == {
        "amount": 5,
        "actor": f"admin:{ADMIN}",
        "reason": "compensation for a failed video",
    }
    # A new command message is a new grant.
    await harness.text(ADMIN, f"/grant {USER} 1 bonus")
    assert await harness.balance(USER) == 8


async def test_grant_bad_arguments(harness: Harness) -> None:
    await harness.text(USER, "/start", language="ru")
    await harness.text(ADMIN, "/grant")
    assert harness.texts(ADMIN)[-1] == t("admin.grant_usage", "en")
    await harness.text(ADMIN, f"/grant {USER} five reasons")
    assert harness.texts(ADMIN)[-1] == t("admin.grant_usage", "en")
    await harness.text(ADMIN, f"/grant {USER} 0 nothing")
    assert harness.texts(ADMIN)[-1] == t("error.invalid_amount", "en")
    await harness.text(ADMIN, "/grant 999999 3 who")
    assert harness.texts(ADMIN)[-1] == t("admin.no_user", "en", user="999999")
    assert await harness.balance(USER) == 2
    # By @username; the user is told in their own language.
    await harness.feed(
        {
            "message": {
                **harness.tg.message(USER, "ru"),
                "text": "hi",
                "from": harness.tg.user(USER, "ru", username="Kitty"),
            }
        }
    )
    await harness.text(ADMIN, "/grant @kitty 3 contest winner")
    assert await harness.balance(USER) == 5
    assert harness.texts(USER)[-1] == t("grant.received", "ru", amount=3, balance=5)


async def test_stats(harness: Harness) -> None:
    for user in (USER, 202):
        await harness.tap(user, await harness.prepare(user), message_id=500)
    await harness.feed(harness.tg.successful_payment_update(USER, "p5", 100, charge_id="c1"))
    name = harness.launcher.specs[0].name
    async with harness.sessions() as session, session.begin():
        await session.execute(update(Generation).where(Generation.name == name).values(phase="Delivered"))
    await harness.text(ADMIN, "/stats")
    assert harness.texts(ADMIN)[-1] == t(
        "admin.stats",
        "en",
        requests=2,
        delivered=1,
        failed=0,
        rate="100%",
        queued=1,
        running=0,
        refunds=0,
        purchases=1,
        stars=100,
    )


async def test_user_lookup_and_block_unblock(harness: Harness) -> None:
    await harness.tap(USER, await harness.prepare(USER), message_id=500)
    await harness.text(ADMIN, f"/user {USER}")
    card = harness.texts(ADMIN)[-1]
    assert card.startswith(f"👤 {USER} — (User{USER}), language en")
    assert "Balance: 1 credit, blocked: no" in card and "Videos: 1 (0 delivered)" in card
    assert harness.launcher.specs[0].name in card
    await harness.text(ADMIN, "/user 31337")
    assert harness.texts(ADMIN)[-1] == t("admin.no_user", "en", user="31337")
    await harness.text(ADMIN, f"/block {USER}")
    await harness.text(ADMIN, f"/user {USER}")
    assert "blocked: yes" in harness.texts(ADMIN)[-1]
    await harness.text(ADMIN, f"/unblock {USER}")
    assert harness.texts(ADMIN)[-1] == t("admin.unblocked", "en", user=USER)
    await harness.text(ADMIN, "/block 31337")
    assert harness.texts(ADMIN)[-1] == t("admin.no_user", "en", user="31337")
    await harness.text(ADMIN, "/block")
    assert harness.texts(ADMIN)[-1] == t("admin.block_usage", "en")
