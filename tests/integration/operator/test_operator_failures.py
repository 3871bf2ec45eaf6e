"""Failures settle exactly once: refund once, tell the user once, never a second Job — also when
the operator is killed in the middle and started again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.result import RunnerResult
from vidgen.core.status import iso
from vidgen.core.texts import t
from vidgen.operator.job_manifest import build_job
from vidgen.operator.settlement import Settlement

from .conftest import Kubelet, OperatorEnv, ok_result, schema_errors, until

pytestmark = pytest.mark.postgres

VIOLATION = Failure(ErrorClass.USER_VIOLATION, "provider_422", "the photo shows a real person")
VIOLATED = RunnerResult.failed(VIOLATION)
TEMPORARY = RunnerResult.failed(Failure(ErrorClass.TEMPORARY, "provider_500", "upstream hiccup"))


async def assert_settled_once(env: OperatorEnv, user_id: int, name: str, message_key: str) -> None:
    """Failed, one debit and one refund, one refund event, one notice to the chat."""
    cluster = env.cluster
    await until(
        lambda: (cluster.condition(name, "Notified") or {}).get("status") in ("True", "Unknown"),
        what="notified",
    )
    status = cluster.status(name)
    assert status["phase"] == "Failed" and status["refunded"] is True
    assert [(k, d) for k, _r, d in await env.ledger(user_id) if k != "signup_bonus"] == [
        ("debit", -1),
        ("refund", 1),
    ]
    counts = await env.event_counts(name)
    assert counts.get("credits_refunded") == 1
    # Notified=Unknown is the claim, written just before the notice is sent: wait for the send
    await until(lambda: env.texts_to(user_id * 10), what="the notice")
    notices = env.texts_to(user_id * 10)
    assert len(notices) == 1 and notices[0].startswith(t(message_key, "en"))
    assert notices[0].endswith(t("refund.balance", "en", balance=2))
    assert (await env.mirror(name)).refunded
    assert not schema_errors(cluster.vg(name))


async def test_user_violation_refunds_and_tells_once_across_a_crash(operator_env: OperatorEnv) -> None:
    env, cluster, tg = operator_env, operator_env.cluster, operator_env.tg
    first = await env.start()
    spec = await env.request(601, "viol")
    name = spec.name
    job = await until(lambda: cluster.jobs().get(f"{name}-a1"), what="the Job")
    await until(lambda: cluster.phase(name) == "Running", what="Running")

    # The notice reaches Telegram, but the operator dies before it hears back.
    tg.latency["sendMessage"] = 5.0  # still in flight when the operator dies (kopf gives 2 s)
    await cluster.finish_job(job, VIOLATED)
    await until(lambda: tg.calls_to("sendMessage"), what="the notice on its way")
    await first.stop()
    assert cluster.phase(name) == "Failed" and cluster.status(name)["refunded"] is True
    assert cluster.condition(name, "Notified")["status"] == "Unknown"  # type: ignore[index]

    tg.latency.clear()
    await env.start()
    await asyncio.sleep(1.0)  # several resync periods: nothing is repeated
    await assert_settled_once(env, 601, name, "error.user_violation")
    status = cluster.status(name)
    assert status["error"] == {"class": "USER_VIOLATION", "code": "provider_422", "message": VIOLATION.detail}
    assert status["attempts"] == 1 and list(cluster.jobs()) == [f"{name}-a1"]
    row = await env.mirror(name)
    assert (row.phase, row.error_class, row.error_code) == ("Failed", "USER_VIOLATION", "provider_422")
    progress = env.texts_to(spec.chat_id, "editMessageText")
    assert progress[-1] == t("progress.failed", "en", reason=t("error.user_violation", "en"))
    assert [e["reason"] for e in cluster.events(name)][-2:] == ["Failed", "Refunded"]


def failed_status(now: float, **extra: Any) -> dict[str, Any]:
    return {
        "phase": "Failed",
        "attempts": 1,
        "jobName": "x",
        "queuedAt": iso(now - 5),
        "finishedAt": iso(now),
        "error": {"class": "USER_VIOLATION", "code": "provider_422", "message": VIOLATION.detail},
        **extra,
    }


async def test_restart_after_the_refund_was_committed_but_not_recorded(operator_env: OperatorEnv) -> None:
    """Killed between the ledger commit and the status patch: the replay refunds nothing twice."""
    env = operator_env
    spec = await env.seed(602, "refd")
    outcome = await Settlement(env.sessions).refund(spec.name, 602, "USER_VIOLATION")
    assert outcome.created
    await env.cluster.create_vg(spec, failed_status(time.time(), refunded=False))
    await env.start()
    await assert_settled_once(env, 602, spec.name, "error.user_violation")


async def test_restart_after_the_notice_was_claimed(operator_env: OperatorEnv) -> None:
    """Killed after claiming the notice: it is not sent again (at most once)."""
    env = operator_env
    spec = await env.seed(603, "clmd")
    await Settlement(env.sessions).refund(spec.name, 603, "USER_VIOLATION")
    claimed = [
        {
            "type": "Notified",
            "status": "Unknown",
            "reason": "Sending",
            "message": "",
            "lastTransitionTime": iso(time.time()),
        }
    ]
    await env.cluster.create_vg(spec, failed_status(time.time(), refunded=True, conditions=claimed))
    await env.start()
    await asyncio.sleep(1.0)
    assert env.texts_to(spec.chat_id) == []
    assert [(k, d) for k, _r, d in await env.ledger(603) if k != "signup_bonus"] == [
        ("debit", -1),
        ("refund", 1),
    ]


async def test_restart_after_the_job_was_created_but_not_recorded(operator_env: OperatorEnv) -> None:
    """Killed between creating the Job and writing Running: the replay adopts the same Job."""
    env, cluster = operator_env, operator_env.cluster
    spec = await env.seed(604, "jobx")
    await cluster.create_vg(spec, {"phase": "Queued", "attempts": 0, "queuedAt": iso(time.time())})
    await cluster.create_job(
        build_job(spec, 1, env.settings, namespace="vidgen", owner_uid=f"uid-{spec.name}")
    )
    async with Kubelet(cluster):
        await env.start()
        await until(lambda: cluster.phase(spec.name) == "Delivered", what="Delivered")
    assert list(cluster.jobs()) == [f"{spec.name}-a1"]
    assert cluster.job_posts() == [f"{spec.name}-a1", f"{spec.name}-a1"]  # ours, then the replay's 409
    assert cluster.status(spec.name)["attempts"] == 1
    assert len(env.tg.calls_to("sendVideo")) == 1


async def test_temporary_failures_retry_with_a_new_job_each(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    await env.start()
    # Attempt 1 fails TEMPORARY, attempt 2 writes no result at all (also TEMPORARY), 3 succeeds.
    async with Kubelet(cluster, script={"vg-605-temp": [TEMPORARY, None]}):
        spec = await env.request(605, "temp")
        await until(lambda: cluster.phase(spec.name) == "Delivered", timeout=15, what="Delivered")
    status = cluster.status(spec.name)
    assert status["attempts"] == 3 and status["jobName"] == f"{spec.name}-a3"
    assert sorted(cluster.jobs()) == [f"{spec.name}-a{i}" for i in (1, 2, 3)]
    assert "error" not in status  # cleared by the success
    reasons = [e["reason"] for e in cluster.events(spec.name)]
    assert reasons.count("Retrying") == 2 and reasons.count("Started") == 3
    assert [k for k, _r, _d in await env.ledger(605)] == ["signup_bonus", "debit"]  # no refund


async def test_temporary_failures_give_up_after_max_attempts(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    await env.start()
    async with Kubelet(cluster, script={"vg-606-give": [TEMPORARY, TEMPORARY, TEMPORARY]}):
        await env.request(606, "give")
        await assert_settled_once(env, 606, "vg-606-give", "error.temporary")
    assert cluster.status("vg-606-give")["attempts"] == 3


async def test_delivery_failing_three_times_fails_refunds_and_tells(operator_env: OperatorEnv) -> None:
    env, cluster, tg = operator_env, operator_env.cluster, operator_env.tg
    tg.fail("sendVideo", times=3, code=500)
    await env.start()
    async with Kubelet(cluster):
        spec = await env.request(607, "dlvr")
        await assert_settled_once(env, 607, spec.name, "error.delivery")
    assert len(tg.calls_to("sendVideo")) == 3
    status = cluster.status(spec.name)
    assert status["deliveryAttempts"] == 3
    assert status["error"]["code"] == "delivery_failed"
    counts = await env.event_counts(spec.name)
    assert counts.get("delivery_failed") == 1 and "video_delivered" not in counts
    assert [e["reason"] for e in cluster.events(spec.name)].count("DeliveryFailed") == 2


async def test_delivery_respects_telegrams_retry_after(operator_env: OperatorEnv) -> None:
    env, cluster, tg = operator_env, operator_env.cluster, operator_env.tg
    tg.fail("sendVideo", times=1, code=429, retry_after=1)
    await env.start()
    async with Kubelet(cluster):
        spec = await env.request(608, "flood")
        await until(lambda: cluster.phase(spec.name) == "Delivered", what="Delivered")
    first, second = tg.calls_to("sendVideo")
    assert second.at - first.at >= 1.0
    assert cluster.status(spec.name)["deliveryAttempts"] == 2


async def test_deletion_before_finishing_refunds_through_the_finalizer(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    await env.start()
    spec = await env.request(609, "gone")
    await until(lambda: cluster.jobs().get(f"{spec.name}-a1"), what="the Job")
    await until(
        lambda: "vidgen.io/finalizer" in (cluster.vg(spec.name)["metadata"].get("finalizers") or []),
        what="finalizer",
    )
    await cluster.delete_vg(spec.name)
    await until(lambda: cluster.gone(spec.name), what="the VG to go")
    assert cluster.jobs() == {}  # the running attempt was stopped
    assert [(k, d) for k, _r, d in await env.ledger(609) if k != "signup_bonus"] == [
        ("debit", -1),
        ("refund", 1),
    ]
    assert env.texts_to(spec.chat_id)[0].startswith(t("error.cancelled", "en"))
    row = await env.mirror(spec.name)
    assert (row.phase, row.error_code, row.refunded) == ("Failed", "cancelled", True)


async def test_deleting_a_delivered_generation_refunds_nothing(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    await env.start()
    async with Kubelet(cluster):
        spec = await env.request(610, "keep")
        await until(lambda: cluster.phase(spec.name) == "Delivered", what="Delivered")
    await cluster.delete_vg(spec.name)
    await until(lambda: cluster.gone(spec.name), what="the VG to go")
    assert [k for k, _r, _d in await env.ledger(610)] == ["signup_bonus", "debit"]
    assert env.texts_to(spec.chat_id) == []


async def test_a_job_that_disappears_is_a_temporary_failure(operator_env: OperatorEnv) -> None:
    env, cluster = operator_env, operator_env.cluster
    await env.start()
    spec = await env.request(611, "lost")
    await until(lambda: cluster.jobs().get(f"{spec.name}-a1"), what="the Job")
    await until(lambda: cluster.phase(spec.name) == "Running", what="Running")
    resp = await cluster.kmock.delete(f"/apis/batch/v1/namespaces/vidgen/jobs/{spec.name}-a1")
    assert resp.status == 200
    await until(
        lambda: cluster.status(spec.name).get("attempts") == 1 and cluster.phase(spec.name) == "Queued",
        what="requeued",
    )
    assert cluster.status(spec.name)["error"]["code"] == "job_lost"
    async with Kubelet(cluster):
        await until(lambda: cluster.phase(spec.name) == "Delivered", what="Delivered")
    assert cluster.status(spec.name)["attempts"] == 2
    assert ok_result  # the default kubelet result


async def test_a_leftover_job_of_an_earlier_object_is_not_adopted(operator_env: OperatorEnv) -> None:
    """A Job of the same name owned by an earlier (deleted) object: removed, never read."""
    env, cluster = operator_env, operator_env.cluster
    spec = await env.seed(612, "stale")
    stale = build_job(spec, 1, env.settings, namespace="vidgen", owner_uid="uid-of-an-earlier-object")
    await cluster.create_job(stale)
    await cluster.finish_job(stale, VIOLATED)  # its result must not settle the new object
    async with Kubelet(cluster):
        await env.start()
        await cluster.create_vg(spec)
        await until(lambda: cluster.phase(spec.name) == "Delivered", what="Delivered")
    job = cluster.jobs()[f"{spec.name}-a1"]
    assert job["metadata"]["ownerReferences"][0]["uid"] == f"uid-{spec.name}"
    assert cluster.status(spec.name)["attempts"] == 1
    assert [k for k, _r, _d in await env.ledger(612)] == ["signup_bonus", "debit"]
