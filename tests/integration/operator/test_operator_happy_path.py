"""A request goes all the way: Job → result → Telegram → Delivered, with mirror, ledger, Events."""

from __future__ import annotations

import json

import pytest

from vidgen.core.texts import t

from .conftest import VIDEO, Kubelet, OperatorEnv, ok_result, schema_errors, until

pytestmark = pytest.mark.postgres


async def test_happy_path(operator_env: OperatorEnv) -> None:
    env, cluster, tg = operator_env, operator_env.cluster, operator_env.tg
    await env.start()
    spec = await env.request(101, "happy", prompt="the cat turns its head")
    name = spec.name

    # A Job with the specified fields appears for attempt 1.
    job = await until(lambda: cluster.jobs().get(f"{name}-a1"), what="the Job")
    assert job["metadata"]["ownerReferences"][0]["uid"] == f"uid-{name}"
    assert job["metadata"]["labels"]["vidgen.io/generation"] == name
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:5] == ["runner", "--name", name, "--photo", spec.photo]
    assert "--attempt" in args and args[args.index("--attempt") + 1] == "1"
    await until(lambda: cluster.phase(name) == "Running", what="Running")

    # The kubelet finishes it with a success line in the termination message.
    await cluster.finish_job(job, ok_result(name))
    await until(lambda: cluster.phase(name) == "Delivered", what="Delivered")
    # Settled: the finalizer is released, so a deletion never waits for the operator.
    await until(
        lambda: "vidgen.io/finalizer" not in (cluster.vg(name)["metadata"].get("finalizers") or []),
        what="the finalizer released",
    )

    (video,) = tg.calls_to("sendVideo")
    assert video.params["chat_id"] == str(spec.chat_id)
    assert video.files["video"] == VIDEO  # file storage cannot sign a URL: uploaded
    markup = video.json("reply_markup")
    assert markup["inline_keyboard"][0][0]["callback_data"] == f"again:{name}"
    assert video.params["caption"] == t("delivery.caption", "en", balance=1)

    status = cluster.status(name)
    assert status["attempts"] == 1 and status["deliveryAttempts"] == 1
    assert status["jobName"] == f"{name}-a1"
    assert status["result"]["video"] == f"outputs/{name}.mp4"
    assert status["result"]["telegramFileId"].startswith("video-")
    assert status["providerTaskId"] == f"task-{name}"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}
    assert not schema_errors(cluster.vg(name))

    async def mirrored() -> bool:
        return (await env.mirror(name)).phase == "Delivered"

    await until(mirrored, what="the mirror")
    row = await env.mirror(name)
    assert (row.phase, row.attempts, row.delivery_attempts) == ("Delivered", 1, 1)
    assert row.job_name == f"{name}-a1" and row.telegram_file_id == status["result"]["telegramFileId"]
    assert row.video_key == f"outputs/{name}.mp4" and row.enhanced_prompt == "a calm sea"
    assert row.queued_at and row.started_at and row.finished_at and not row.refunded
    assert await env.ledger(101) == [("signup_bonus", "101", 2), ("debit", name, -1)]
    assert await env.event_counts(name) == {
        "generation_requested": 1,
        "generation_started": 1,
        "generation_succeeded": 1,
        "video_delivered": 1,
    }

    reasons = [e["reason"] for e in cluster.events(name)]
    assert reasons == ["Queued", "Started", "Generated", "Delivering", "Delivered"]
    assert all(e["involvedObject"]["kind"] == "VideoGeneration" for e in cluster.events(name))

    # The progress message was edited in place, ending with "delivered".
    edits = [
        c for c in tg.calls_to("editMessageText") if c.params["message_id"] == str(spec.status_message_id)
    ]
    texts = [c.params["text"] for c in edits]
    assert texts == [  # admitted at once: no queue position to show
        t("progress.running", "en", attempt=1),
        t("progress.generated", "en"),
        t("progress.delivered", "en"),
    ]
    assert not tg.calls_to("sendMessage")  # no failure notice
    assert cluster.job_posts() == [f"{name}-a1"]


async def test_finishes_with_the_kubelet_running(operator_env: OperatorEnv) -> None:
    """The harness's kubelet drives a request end to end (used by the bigger scenarios)."""
    await operator_env.start()
    async with Kubelet(operator_env.cluster):
        spec = await operator_env.request(102, "auto")
        await until(lambda: operator_env.cluster.phase(spec.name) == "Delivered", what="Delivered")
    assert json.loads(json.dumps(operator_env.cluster.status(spec.name)))["attempts"] == 1
