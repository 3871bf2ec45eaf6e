"""/api in the bot: a key bound to the user's credits, shown once with its webhook secret; a
replayed update makes no second key; /api revoke ID revokes only the user's own key."""

from __future__ import annotations

import copy
import re

from tests.integration.bot.harness import USER, Harness
from vidgen.core.db.api_keys import authenticate, list_keys


async def test_api_makes_one_key_per_command_and_revokes_own_keys(harness: Harness) -> None:
    await harness.text(USER, "/start")
    update = harness.stamp(harness.tg.text_update(USER, "/api"))
    await harness.feed(copy.deepcopy(update))
    shown = harness.texts(USER)[-1]
    key = re.search(r"(vgk_[A-Za-z0-9_-]+)", shown).group(1)  # type: ignore[union-attr]
    assert re.search(r"whsec_\S+", shown)
    async with harness.sessions() as session:
        row = await authenticate(session, key)
        assert row is not None and row.user_id == USER

    shown_before = len(harness.texts(USER))
    await harness.feed(copy.deepcopy(update))  # the same update replayed: an update id seen before
    assert len(harness.texts(USER)) == shown_before  # is skipped whole (no second key, no reply)
    replay = copy.deepcopy(update)
    replay["update_id"] += 1000  # the same command message under a new update id
    await harness.feed(replay)
    assert "already made" in harness.texts(USER)[-1]
    async with harness.sessions() as session:
        assert len(await list_keys(session, USER)) == 1

    await harness.text(202, "/start")
    await harness.text(202, f"/api revoke {row.id}")  # someone else's key
    assert f"no key {row.id}" in harness.texts(202)[-1]
    await harness.text(USER, f"/api revoke {row.id}")
    assert f"Key {row.id} revoked" in harness.texts(USER)[-1]
    async with harness.sessions() as session:
        assert await authenticate(session, key) is None
