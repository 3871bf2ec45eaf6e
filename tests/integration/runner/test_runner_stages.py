"""Submit and collect (issue 13, runner side) against the fake KIE.AI: submit creates the task
once (a re-run answers the checkpointed task), collect stores the video only when the task is
done, a collect killed mid-download is re-run and finishes with one video, and a result URL that
answers 403/404/410 is fetched again through KIE.AI before anything counts as a failure."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.fakes.kie import FakeKie
from tests.polling import until
from vidgen.core.errors import ErrorClass
from vidgen.core.models import checkpoint_key, photo_key, video_key
from vidgen.core.result import EXIT_FINAL, EXIT_OK, EXIT_RETRYABLE, decode, encode
from vidgen.runner import checkpoint
from vidgen.runner.pipeline import RunRequest, run_generation
from vidgen.runner.stages import collect_task, submit_task

from .conftest import NAME
from .test_runner_cli import env_for, run, the_line

CALLBACK = "https://vidgen.example/kie/callback/" + NAME


def request(**kw: object) -> RunRequest:
    return RunRequest(name=NAME, photo=photo_key(NAME), **kw)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_submit_creates_the_task_once_and_says_so(kie: FakeKie, storage, make_settings) -> None:
    settings = make_settings(kie)
    first = await submit_task(
        request(callback_url=CALLBACK, model="veo3_fast", duration_seconds=8), settings, storage
    )

    assert first.ok and first.is_submitted and first.exit_code == EXIT_OK
    assert first.taskId in kie.tasks and first.family == "veo" and first.expectedSeconds == 90
    assert first.submittedAt is not None and abs(first.submittedAt - time.time()) < 3600
    (create,) = kie.calls("createTask")
    assert create.body["callBackUrl"] == CALLBACK
    cp = checkpoint.load(storage, NAME)
    assert cp is not None and cp.task_id == first.taskId  # checkpoint first, as today
    assert not storage.exists(video_key(NAME)) and not kie.calls("download")
    line = json.loads(encode(first))
    assert line["submitted"] is True and line["taskId"] == first.taskId and "video" not in line
    assert decode(encode(first)) == first

    again = await submit_task(
        request(callback_url=CALLBACK, model="veo3_fast", duration_seconds=8), settings, storage
    )
    assert again.taskId == first.taskId and again.is_submitted
    assert kie.create_calls == 1 and len(kie.calls("upload")) == 1  # never created twice


async def test_collect_waits_for_done_then_stores_one_video(kie: FakeKie, storage, make_settings) -> None:
    clock = Clock()
    kie.clock = clock
    kie.generation_seconds = 60
    settings = make_settings(kie)
    submitted = await submit_task(request(), settings, storage)
    task_id = submitted.taskId
    assert task_id

    pending = await collect_task(request(), task_id, settings, storage)
    assert (pending.error_class, pending.code, pending.exit_code) == (
        ErrorClass.TEMPORARY,
        "task_pending",
        EXIT_RETRYABLE,
    )
    assert pending.taskId == task_id and not storage.exists(video_key(NAME))
    assert storage.exists(checkpoint_key(NAME))  # still our task

    clock.now += 60  # the provider finished
    done = await collect_task(request(), task_id, settings, storage)
    assert done.ok and done.video == video_key(NAME) and done.taskId == task_id, done
    assert storage.get(video_key(NAME)) == kie.video
    assert kie.create_calls == 1 and len(kie.calls("download")) == 1

    before = len(kie.requests)
    assert (await collect_task(request(), task_id, settings, storage)).video == done.video
    assert len(kie.requests) == before  # stored: not one more call to the provider


async def test_collect_of_a_failed_task_reports_it_and_clears_the_checkpoint(
    kie: FakeKie, storage, make_settings
) -> None:
    kie.fail_next_tasks(fail_msg="Your photo violates the content policy", fail_code="400")
    settings = make_settings(kie)
    task_id = (await submit_task(request(), settings, storage)).taskId
    assert task_id
    result = await collect_task(request(), task_id, settings, storage)
    assert (result.error_class, result.exit_code) == (ErrorClass.USER_VIOLATION, EXIT_FINAL)
    assert result.taskId == task_id
    assert not storage.exists(checkpoint_key(NAME))  # the next submit creates a new task


async def test_a_collect_killed_mid_download_is_re_run_and_stores_one_video(
    kie: FakeKie, storage, make_settings, tmp_path: Path
) -> None:
    settings = make_settings(kie, kie_request_timeout_seconds=30)
    task_id = (await submit_task(request(), settings, storage)).taskId
    assert task_id
    kie.latency["download"] = 30  # the download hangs: kill the collect while it is in it
    first = asyncio.create_task(collect_task(request(), task_id, settings, storage))
    await until(lambda: kie.calls("download"), what="the download to start")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not storage.exists(video_key(NAME))

    kie.latency.clear()
    again = await collect_task(request(attempt=2), task_id, settings, storage)
    assert again.ok and again.taskId == task_id, again
    outputs = sorted(p.name for p in (tmp_path / "data" / "outputs").iterdir())
    assert outputs == [f"{NAME}.mp4"] and storage.get(video_key(NAME)) == kie.video
    assert kie.create_calls == 1


async def test_an_expired_result_url_is_fetched_again_by_a_new_status(
    kie: FakeKie, storage, make_settings
) -> None:
    settings = make_settings(kie)
    task_id = (await submit_task(request(), settings, storage)).taskId
    assert task_id
    kie.dead_urls = 1  # the URL the collect's status answer gives is already gone
    result = await collect_task(request(), task_id, settings, storage)
    assert result.ok, result
    assert kie.expired_downloads == 1 and len(kie.calls("recordInfo")) == 2
    assert not kie.calls("downloadUrl") and kie.create_calls == 1


@pytest.mark.parametrize("expired_status", [403, 404, 410])
async def test_a_repeated_dead_url_is_fetched_through_download_url(
    expired_status: int, kie: FakeKie, storage, make_settings
) -> None:
    settings = make_settings(kie)
    task_id = (await submit_task(request(), settings, storage)).taskId
    assert task_id
    kie.fresh_urls = False  # recordInfo keeps giving the first URL …
    kie.expired_status = expired_status
    kie.dead_urls = 1  # … and that one is dead
    result = await collect_task(request(), task_id, settings, storage)
    assert result.ok, result
    assert len(kie.calls("downloadUrl")) == 1 and kie.expired_downloads == 1
    assert kie.create_calls == 1


async def test_urls_that_stay_dead_are_not_a_final_failure_and_no_task_is_paid_twice(
    kie: FakeKie, storage, make_settings
) -> None:
    settings = make_settings(kie)
    kie.url_max_downloads = 0  # every result URL is dead at its first use
    first = await run_generation(request(), settings, storage)
    assert (first.error_class, first.code, first.exit_code) == (
        ErrorClass.UNKNOWN,
        "result_url_expired",
        EXIT_RETRYABLE,
    )
    assert kie.expired_downloads >= 2 and kie.calls("downloadUrl")
    cp = checkpoint.load(storage, NAME)
    assert cp is not None  # the task succeeded: it is kept, never created again

    kie.url_max_downloads = None  # KIE.AI serves it again
    resubmitted = await submit_task(request(attempt=2), settings, storage)
    assert resubmitted.is_submitted and resubmitted.taskId == cp.task_id
    collected = await collect_task(request(attempt=2), resubmitted.taskId or "", settings, storage)
    assert collected.ok and kie.create_calls == 1


async def test_the_whole_attempt_also_refreshes_a_dead_url(kie: FakeKie, storage, make_settings) -> None:
    kie.dead_urls = 1
    result = await run_generation(request(), make_settings(kie), storage)
    assert result.ok and kie.expired_downloads == 1 and kie.create_calls == 1


async def test_collect_without_a_task_id_is_a_clear_failure(kie: FakeKie, storage, make_settings) -> None:
    result = await collect_task(request(), " ", make_settings(kie), storage)
    assert (result.code, result.exit_code) == ("missing_task_id", EXIT_FINAL)
    assert not kie.requests


async def test_submit_and_collect_from_the_command_line(tmp_path: Path, storage, kie: FakeKie) -> None:
    env = env_for(tmp_path, kie)
    log = tmp_path / "submit.log"
    code, _, err = await run(
        tmp_path, env, "submit", "--name", NAME, "--photo", photo_key(NAME),
        "--callback-url", CALLBACK, "--termination-log", str(log),
    )  # fmt: skip
    assert code == 0, err
    line = the_line(log)
    assert line["submitted"] is True and line["family"] == "jobs" and line["expectedSeconds"] == 240
    assert kie.calls("createTask")[0].body["callBackUrl"] == CALLBACK

    log = tmp_path / "collect.log"
    code, _, err = await run(
        tmp_path, env, "collect", "--name", NAME, "--task-id", line["taskId"], "--termination-log", str(log)
    )
    assert code == 0, err
    done = the_line(log)
    assert done["ok"] is True and done["video"] == video_key(NAME) and done["taskId"] == line["taskId"]
    assert kie.create_calls == 1


async def test_collect_reads_the_model_from_the_checkpoint(kie: FakeKie, storage, make_settings) -> None:
    settings = make_settings(kie)
    task_id = (await submit_task(request(model="runway-gen4", duration_seconds=5), settings, storage)).taskId
    assert task_id
    # the collect's own request forgot --model: the checkpoint's model picks the family
    result = await collect_task(request(), task_id, settings, storage)
    assert result.ok and result.model == "runway-gen4", result
    assert {r.path for r in kie.calls("recordInfo")} == {"/api/v1/runway/record-detail"}


async def test_submit_and_collect_with_the_sandbox(storage, make_settings) -> None:
    settings = make_settings(sandbox_latency_seconds=0)
    submitted = await submit_task(request(), settings, storage)
    assert submitted.is_submitted and submitted.taskId
    assert (await submit_task(request(), settings, storage)).taskId == submitted.taskId
    done = await collect_task(request(), submitted.taskId, settings, storage)
    assert done.ok and storage.exists(video_key(NAME)) and done.duration
