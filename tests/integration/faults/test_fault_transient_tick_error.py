"""A transient error inside the per-object timer (the database blips while a tick settles a
generation) must not park that generation for kopf's default error backoff (60 s): the timer is
what re-runs a step that no watch event will trigger again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.integration.operator.conftest import OperatorEnv, until
from vidgen.core.status import iso
from vidgen.operator.settlement import RefundOutcome, Settlement

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


async def test_a_failed_tick_is_retried_at_the_admission_interval(
    operator_env: OperatorEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, cluster = operator_env, operator_env.cluster
    real_refund = Settlement.refund
    calls: list[float] = []

    async def flaky_refund(self: Settlement, *args: Any) -> RefundOutcome:
        calls.append(time.monotonic())
        if calls[-1] - started < 1.0:  # the database is unreachable for the first second
            raise OperationalError("UPDATE users …", {}, Exception("server closed the connection"))
        return await real_refund(self, *args)

    monkeypatch.setattr(Settlement, "refund", flaky_refund)
    started = time.monotonic()
    spec = await env.seed(701, "blip")
    now = time.time()
    failed = {
        "phase": "Failed",
        "attempts": 1,
        "jobName": f"{spec.name}-a1",
        "queuedAt": iso(now - 5),
        "finishedAt": iso(now),
        "error": {"class": "USER_VIOLATION", "code": "provider_422", "message": "refused"},
    }
    await cluster.create_vg(spec, failed)  # failed, not refunded yet: the operator must refund
    await env.start()
    await until(lambda: cluster.status(spec.name).get("refunded") is True, timeout=30, what="the refund")
    assert len(calls) >= 2 and calls[-1] - started >= 1.0
    # Well within one resync interval plus a few ticks, not kopf's 60 s.
    assert time.monotonic() - started < 5 * env.settings.resync_interval_seconds + 2
    assert [k for k, _r, _d in await env.ledger(701)] == ["signup_bonus", "debit", "refund"]
