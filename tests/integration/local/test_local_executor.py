"""`ProcessExecutor` with real `vidgen runner` subprocesses (the sandbox provider, tiny clips): an
idempotent start, outcomes from the result file, a runner of an earlier run adopted, one that
vanished run again from its checkpoint (bounded), a clean shutdown that leaves attempts to be
resumed, and the runner's environment built from the settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_local.kit import CAT, alive, local_settings, until
from tests.fakes.kie import FakeKie
from vidgen.core.lifecycle import JobState
from vidgen.core.models import GenerationSpec, checkpoint_key, photo_key, video_key
from vidgen.core.settings import Settings
from vidgen.core.status import Generation
from vidgen.local.executor import ProcessExecutor, process_alive, runner_environment
from vidgen.storage import FileStorage

NAME = "vg-9-exec"


@pytest.fixture
def storage(tmp_path: Path) -> FileStorage:
    store = FileStorage(tmp_path / "data")
    store.put(photo_key(NAME), CAT, "image/jpeg")
    return store


def gen(attempt: int = 1, name: str = NAME) -> Generation:
    spec = GenerationSpec(name=name, user_id=9, chat_id=9, photo=photo_key(name), prompt="spin")
    status = {"phase": "Running", "attempts": attempt, "jobName": f"{name}-a{attempt}"}
    return Generation(name, spec, status)


def executor(settings: Settings, exits: list[str] | None = None) -> ProcessExecutor:
    return ProcessExecutor(settings, on_exit=exits.append if exits is not None else None)


async def finished(ex: ProcessExecutor, g: Generation, timeout: float = 30) -> Any:
    async def done() -> Any:
        outcome = await ex.outcome(g)
        return outcome if outcome.state is not JobState.ACTIVE else None

    return await until(done, timeout, "the attempt to finish")


async def test_start_is_idempotent_and_the_outcome_comes_from_the_result(
    tmp_path: Path, storage: FileStorage
) -> None:
    settings = local_settings(tmp_path)
    exits: list[str] = []
    ex = executor(settings, exits)
    g = gen()
    assert await ex.start(g, 1) == f"{NAME}-a1"
    pid = int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text())
    assert await ex.start(g, 1) == f"{NAME}-a1"  # the same process
    assert int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text()) == pid
    assert (await ex.outcome(g)).state is JobState.ACTIVE

    outcome = await finished(ex, g)
    assert outcome.state is JobState.SUCCEEDED and outcome.result.ok
    assert outcome.result.video == video_key(NAME) and storage.exists(video_key(NAME))
    await until(lambda: exits == [NAME], 5, "the exit callback")
    assert (tmp_path / "runs" / f"{NAME}-a1.exit").read_text() == "0\n"

    # Another controller (a restart) replays the start: nothing runs again, the result stands.
    again = executor(settings)
    assert await again.start(g, 1) == f"{NAME}-a1"
    assert int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text()) == pid
    assert (await again.outcome(g)).result == outcome.result
    assert (tmp_path / "runs" / f"{NAME}-a1.log").read_text().count("task_created") == 1  # one runner ran
    await ex.shutdown()
    await again.shutdown()


async def test_a_failed_attempt_and_one_that_ended_without_a_result(
    tmp_path: Path, storage: FileStorage
) -> None:
    settings = local_settings(tmp_path, sandbox_failures=["1:501:content policy violation"])
    ex = executor(settings)
    g = gen()
    await ex.start(g, 1)
    outcome = await finished(ex, g)
    assert outcome.state is JobState.FAILED
    assert (outcome.result.error_class, outcome.result.code) == ("USER_VIOLATION", "provider_501")

    # A runner that died without writing its result (seen after a restart): failed, no result.
    lost = gen(2)
    (tmp_path / "runs" / f"{NAME}-a2.exit").write_text("-9\n")
    outcome = await executor(settings).outcome(lost)
    assert outcome.state is JobState.FAILED and outcome.result is None
    await ex.shutdown()


async def test_a_runner_left_by_an_earlier_run_is_adopted(tmp_path: Path, storage: FileStorage) -> None:
    settings = local_settings(tmp_path, sandbox_latency_seconds=1.5)
    first = executor(settings)
    g = gen()
    await first.start(g, 1)
    pid = int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text())
    # The controller "dies": it forgets its child without stopping it.
    first._children.clear()
    for task in first._waiters.values():
        task.cancel()

    exits: list[str] = []
    second = executor(settings, exits)
    assert (await second.outcome(g)).state is JobState.ACTIVE
    assert await second.start(g, 1) == f"{NAME}-a1"  # adopted, not started again
    assert int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text()) == pid
    await until(lambda: exits == [NAME], 30, "the adopted runner to end")
    outcome = await second.outcome(g)
    assert outcome.state is JobState.SUCCEEDED and outcome.result.ok
    await second.shutdown()
    await first.shutdown()


async def test_a_vanished_runner_is_run_again_and_resumes_its_task(
    tmp_path: Path, storage: FileStorage
) -> None:
    async with FakeKie(generation_seconds=1.0) as kie:
        settings = local_settings(tmp_path, None, kie, local_max_resumes=1)
        first = executor(settings)
        g = gen()
        await first.start(g, 1)
        await until(lambda: storage.exists(checkpoint_key(NAME)), 30, "the checkpoint")
        pid = int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text())
        first._children.clear()  # the controller dies, and the runner with it
        for task in first._waiters.values():
            task.cancel()
        os.killpg(pid, 9)
        await until(lambda: not alive(pid), 10, "the runner to die")

        second = executor(settings)
        assert (await second.outcome(g)).state is JobState.ACTIVE  # run again, same attempt
        assert (tmp_path / "runs" / f"{NAME}-a1.resumes").read_text() == "1\n"
        outcome = await finished(second, g)
        assert outcome.state is JobState.SUCCEEDED and outcome.result.ok
        assert kie.create_calls == 1  # the task was resumed, not paid for twice
        assert "task_resumed" in (tmp_path / "runs" / f"{NAME}-a1.log").read_text()

        # Past local_max_resumes, a vanished runner is an attempt lost (the reconciler retries).
        lost = gen(2)
        (tmp_path / "runs" / f"{NAME}-a2.pid").write_text("999999999\n")
        (tmp_path / "runs" / f"{NAME}-a2.resumes").write_text("1\n")
        assert (await second.outcome(lost)).state is JobState.MISSING
        await second.shutdown()


async def test_shutdown_terminates_runners_and_leaves_their_attempts_to_resume(
    tmp_path: Path, storage: FileStorage
) -> None:
    settings = local_settings(tmp_path, sandbox_latency_seconds=30)
    exits: list[str] = []
    ex = executor(settings, exits)
    g = gen()
    await ex.start(g, 1)
    await until(lambda: storage.exists(checkpoint_key(NAME)), 30, "the sandbox task")
    pid = int((tmp_path / "runs" / f"{NAME}-a1.pid").read_text())
    assert await ex.shutdown() == [f"{NAME}-a1"]
    assert not alive(pid) and exits == []  # a stop is not an ending to reconcile
    assert not (tmp_path / "runs" / f"{NAME}-a1.result").exists()
    assert not (tmp_path / "runs" / f"{NAME}-a1.exit").exists()
    with pytest.raises(RuntimeError):
        await ex.start(gen(2), 2)

    # The next controller runs the attempt again; its runner resumes the sandbox task.
    resumed = executor(local_settings(tmp_path, sandbox_latency_seconds=0))
    assert (await resumed.outcome(g)).state is JobState.ACTIVE
    assert (await finished(resumed, g)).result.ok
    assert "task_resumed" in (tmp_path / "runs" / f"{NAME}-a1.log").read_text()
    await resumed.shutdown()


async def test_stop_terminates_the_attempt(tmp_path: Path, storage: FileStorage) -> None:
    ex = executor(local_settings(tmp_path, sandbox_latency_seconds=30))
    g = gen()
    await ex.start(g, 1)
    await until(lambda: storage.exists(checkpoint_key(NAME)), 30, "the sandbox task")
    await ex.stop(g)
    outcome = await ex.outcome(g)
    assert outcome.state is JobState.FAILED and outcome.result.code == "terminated"
    await ex.shutdown()


def test_the_runner_environment_comes_from_the_settings(tmp_path: Path) -> None:
    settings = local_settings(
        tmp_path,
        storage_url="file://./media",
        kie_api_key="kie-secret",
        telegram_token="123:tok",
        sandbox_failures=["1:429", "*:500:boom"],
    )
    inherited = {"PATH": "/bin", "VIDGEN_DATABASE_URL": "postgresql://x", "VIDGEN_KIE_API_KEY": "old"}
    env = runner_environment(settings, inherited, cwd=tmp_path)
    assert env["PATH"] == "/bin"
    assert env["VIDGEN_KIE_API_KEY"] == "kie-secret"
    assert env["VIDGEN_STORAGE_URL"] == f"file://{tmp_path / 'media'}"
    assert env["VIDGEN_SANDBOX_FAILURES"] == "1:429,*:500:boom"
    assert env["VIDGEN_SANDBOX_MAX_SECONDS"] == "1.0"
    assert "VIDGEN_DATABASE_URL" not in env and "VIDGEN_TELEGRAM_TOKEN" not in env
    assert "VIDGEN_OPENAI_API_KEY" not in env  # None: left out, not "None"
    # and the runner reads them back as the same settings
    code = (
        "from vidgen.core.settings import load_settings; s = load_settings();"
        "print(s.secret('kie_api_key'), s.sandbox_failures, s.sandbox_max_seconds, s.storage_url)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    assert out[0] == "kie-secret" and "['1:429', '*:500:boom'] 1.0" in out[1]


async def test_process_alive_checks_the_command_line(tmp_path: Path) -> None:
    # (not `sleep 30 MARKER`: GNU sleep refuses the extra argument and exits at once)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(30)", str(tmp_path / "marker")
    )
    try:
        # right after fork the child still shows the parent's command line until it execs
        for _ in range(200):
            if process_alive(proc.pid, str(tmp_path / "marker")):
                break
            await asyncio.sleep(0.01)
        assert process_alive(proc.pid, str(tmp_path / "marker"))
        assert not process_alive(proc.pid, str(tmp_path / "another"))  # a reused pid is not ours
    finally:
        proc.kill()
        await proc.wait()
    assert not process_alive(proc.pid, str(tmp_path / "marker"))
