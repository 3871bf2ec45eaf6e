"""Telegram delivers updates — requests and Stars payments — twice, one after the other or at the
same moment (two webhook replicas), and a payment once more under a new update id. Each request
is debited once and becomes one VideoGeneration; each charge is credited once; the operator
then delivers or refunds every generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgen.core.db.models import Payment

from .botflow import KmockLauncher, bot_for, buy, generation_names, once, request_video, twice
from .conftest import FaultEnv
from .sim import task_problems

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


async def test_updates_and_payments_delivered_twice(fault_env: FaultEnv, tmp_path: Path) -> None:
    env, kie = fault_env.env, fault_env.kie
    harness = bot_for(fault_env, tmp_path)
    launcher = harness.launcher
    assert isinstance(launcher, KmockLauncher)
    users = [4000 + i for i in range(6)]
    kie.fail_next_tasks(2, fail_msg="content policy violation: a real person", fail_code="501")
    try:
        async with fault_env.kubelet() as kubelet:
            await env.start()
            for i, user in enumerate(users):
                feed = twice(harness, concurrently=i % 2 == 1)
                await request_video(harness, user, feed, f"cat number {i} waves", message_id=500)
                await buy(harness, user, feed, charge_id=f"charge-{user}")
                # …and the same payment once more, as a new update
                await once(harness)(
                    harness.tg.successful_payment_update(user, "p5", 100, charge_id=f"charge-{user}")
                )
                await request_video(harness, user, feed, f"cat number {i} jumps", message_id=600)
            names = await generation_names(harness)
            await fault_env.settled(names, timeout=90)
    finally:
        await harness.bot.session.close()

    assert len(names) == 2 * len(users)  # one generation per request, not per delivery
    assert sorted(launcher.launched) == names  # each launched once
    await fault_env.check(names)
    assert task_problems(kie, kubelet) == []
    refunded = {n for n in names if fault_env.cluster.phase(n) == "Failed"}
    assert len(refunded) == 2
    for user in users:
        purchases = await harness.entries(user, "purchase")
        assert [(p.delta, p.ref) for p in purchases] == [(5, f"charge-{user}")]
        mine = [n for n in names if n.startswith(f"vg-{user}-")]
        assert len(await harness.entries(user, "debit")) == len(mine) == 2
        refunds = sum(1 for n in mine if n in refunded)
        assert await harness.balance(user) == 2 + 5 - 2 + refunds
    payments = await harness.rows(Payment)
    assert sorted(p.charge_id for p in payments) == sorted(f"charge-{u}" for u in users)
