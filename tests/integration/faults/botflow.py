"""The bot's side of the fault tests: the real Dispatcher (tests/integration/bot/harness.py)
launching into kmock, so its requests go through the operator and the runner; users' flows
(photo → prompt → confirm, Stars purchase) with every update delivered once, twice in a row, or
twice at the same time; and Telegram's redelivery of an update whose handling failed."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.integration.bot.harness import Harness, bot_settings, make_harness
from tests.integration.operator.conftest import Cluster
from vidgen.core.db.models import Generation
from vidgen.core.models import GenerationSpec

from .conftest import FaultEnv

Feed = Callable[[dict[str, Any]], Awaitable[None]]


class KmockLauncher:
    """The bot's GenerationLauncher for these tests: creates the VideoGeneration in kmock
    (idempotent on the name, like the Kubernetes launcher)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.launched: list[str] = []

    async def launch(self, spec: GenerationSpec) -> None:
        try:
            if self.cluster.vg(spec.name):
                return
        except KeyError:
            pass
        await self.cluster.create_vg(spec)
        self.launched.append(spec.name)


def bot_for(fault_env: FaultEnv, tmp_path: Path, **overrides: Any) -> Harness:
    """The bot on the same fake Telegram, database and storage as the operator and runner."""
    env = fault_env.env
    return make_harness(
        env.tg,
        env.sessions,
        tmp_path,
        settings=bot_settings(**overrides),
        launcher=KmockLauncher(fault_env.cluster),  # type: ignore[arg-type]
        storage=fault_env.storage,
    )


def once(harness: Harness) -> Feed:
    async def feed(update: dict[str, Any]) -> None:
        await harness.feed(harness.stamp(update))

    return feed


def twice(harness: Harness, *, concurrently: bool = False) -> Feed:
    """Telegram delivers the same update (same update_id) two times: one after the other, or
    at the same moment (two webhook replicas)."""

    async def feed(update: dict[str, Any]) -> None:
        harness.stamp(update)
        if concurrently:
            await asyncio.gather(harness.feed(copy.deepcopy(update)), harness.feed(copy.deepcopy(update)))
        else:
            await harness.feed(copy.deepcopy(update))
            await harness.feed(copy.deepcopy(update))

    return feed


def redelivered(harness: Harness, tries: int = 8) -> Feed:
    """An update whose handling raised is delivered again (a webhook answered 500), bounded."""

    async def feed(update: dict[str, Any]) -> None:
        harness.stamp(update)
        for attempt in range(tries):
            try:
                await harness.feed(copy.deepcopy(update))
                return
            except Exception:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.05)

    return feed


async def request_video(harness: Harness, user_id: int, feed: Feed, prompt: str, message_id: int) -> None:
    """/start → photo → prompt → Continue → Confirm, each update through `feed`."""
    tg = harness.tg
    await feed(tg.text_update(user_id, "/start"))
    await feed(tg.photo_update(user_id, harness_photo()))
    await feed(tg.text_update(user_id, prompt))
    await feed(tg.callback_update(user_id, harness.button(user_id, "opt:next"), message_id=message_id))
    await feed(tg.callback_update(user_id, harness.button(user_id, "confirm:"), message_id=message_id))


async def buy(harness: Harness, user_id: int, feed: Feed, charge_id: str) -> None:
    """Buy the 5-credit package with Stars: pre-checkout, then the successful payment."""
    tg = harness.tg
    await feed(tg.callback_update(user_id, "menu:buy", message_id=10))
    await feed(tg.callback_update(user_id, "buy:p5", message_id=10))
    await feed(tg.pre_checkout_update(user_id, "p5", 100))
    await feed(tg.successful_payment_update(user_id, "p5", 100, charge_id=charge_id))


def harness_photo() -> bytes:
    from tests.integration.bot.harness import CAT

    return CAT


async def generation_names(harness: Harness) -> list[str]:
    async with harness.sessions() as session:
        return list((await session.scalars(select(Generation.name).order_by(Generation.name))).all())
