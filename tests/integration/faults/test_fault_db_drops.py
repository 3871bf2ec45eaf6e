"""The database connection dropped mid-transaction: while users request videos through the bot
and the operator settles them, another connection terminates (`pg_terminate_backend`) the
sessions that are inside a transaction at seeded random moments. Transactions roll back whole;
an update that failed is delivered again by Telegram; the operator retries its step; leftovers
in the outbox are launched by the sweeper. No credit is lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.integration.bot.harness import Harness
from vidgen.bot.sweeper import OutboxSweeper
from vidgen.core.settings import Settings

from .botflow import bot_for, generation_names, redelivered, request_video
from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(150)]

SEED = 77
KILL = """
SELECT pg_terminate_backend(pid), state FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend' AND state <> 'idle'
"""


class BackendKiller:
    """Terminates the database's busy sessions (in a transaction, or running a statement) every
    few tens of milliseconds; counts what it cut by the session's state."""

    def __init__(self, url: str, seed: int) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.rng = random.Random(seed)
        self.killed: Counter[str] = Counter()

    async def _loop(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while not stop.is_set():
                await asyncio.sleep(self.rng.uniform(0.02, 0.15))
                for ok, state in await (await conn.execute(KILL)).fetchall():
                    if ok:
                        self.killed[str(state)] += 1

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[BackendKiller]:
        stop = asyncio.Event()
        task = asyncio.create_task(self._loop(stop))
        try:
            yield self
        finally:
            stop.set()
            await task


async def mine(harness: Harness, user_id: int) -> list[str]:
    """The user's generations (rows committed)."""
    with contextlib.suppress(Exception):  # the read itself may be cut
        return [n for n in await generation_names(harness) if n.startswith(f"vg-{user_id}-")]
    return []


async def test_database_connections_cut_mid_transaction(fault_env: FaultEnv, tmp_path: Path) -> None:
    env, kie, cluster = fault_env.env, fault_env.kie, fault_env.cluster
    harness = bot_for(fault_env, tmp_path)
    kie.fail_next_tasks(3, fail_msg="content policy violation: unsafe image", fail_code="501")
    killer = BackendKiller(env.settings.database_url, SEED)
    users = [5000 + i for i in range(10)]
    try:
        async with fault_env.kubelet() as kubelet:
            await env.start()
            async with killer.running():
                feed = redelivered(harness)
                for i, user in enumerate(users):
                    for _ in range(4):  # the user starts over when a step failed for good
                        with contextlib.suppress(Exception):
                            await request_video(harness, user, feed, f"dog number {i} runs", message_id=500)
                        if await mine(harness, user):
                            break
                await asyncio.sleep(1.5)  # the operator keeps settling while sessions are cut
            # The bot's sweeper launches what was committed but not launched.
            sweeper = OutboxSweeper(
                Settings.model_validate({**harness.settings.model_dump(), "outbox_grace_seconds": 0}),
                env.sessions,
                harness.launcher,
            )
            await sweeper.sweep_once()
            names = await generation_names(harness)
            await fault_env.settled(names, timeout=90)
    finally:
        await harness.bot.session.close()

    in_transaction = killer.killed["idle in transaction"] + killer.killed["active"]
    assert in_transaction >= 5, killer.killed
    assert len(names) >= len(users) * 2 // 3
    await fault_env.check(names)  # every generation row: one debit, refund iff not delivered
    assert task_problems(kie, kubelet) == []
    for name in names:
        assert cluster.phase(name) in ("Delivered", "Failed")
