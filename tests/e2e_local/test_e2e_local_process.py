"""`vidgen local` as a real subprocess: a missing token is one line; SIGKILL in the middle of a
generation and a restart finish it with one debit, no refund and one paid task (the runner
either survives and is adopted, or dies too and is run again from its checkpoint); Ctrl-C stops
cleanly — the runner is terminated, the attempt is not failed, and the next start resumes it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.e2e_local.kit import VIDGEN, LocalProcess, TelegramUser, alive, books, local_env, until, wake
from tests.fakes.kie import FakeKie
from tests.fakes.telegram import FakeTelegram

USER = 5151


def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"


def runner_pid(tmp_path: Path) -> tuple[str, int]:
    """The running attempt's job name and runner pid (from the runs folder)."""
    [pid_file] = (tmp_path / "runs").glob("*.pid")
    return pid_file.stem, int(pid_file.read_text())


def checkpoints(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "data" / "checkpoints").glob("*.json"))


async def test_without_a_telegram_token_it_says_so_in_one_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        VIDGEN, "local", env=local_env(tmp_path), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert err.decode() == "vidgen: missing setting VIDGEN_TELEGRAM_TOKEN\n" and out == b""
    assert not (tmp_path / "vidgen.db").exists()  # nothing was started


async def test_a_token_telegram_refuses_is_one_line_too(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        env = local_env(tmp_path, tg) | {"VIDGEN_TELEGRAM_TOKEN": "999:not-the-bots"}
        proc = await asyncio.create_subprocess_exec(
            VIDGEN, "local", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and out == b""
    lines = err.decode().splitlines()
    assert lines[-1] == "vidgen local: Telegram refused the bot token (VIDGEN_TELEGRAM_TOKEN)"
    assert "Traceback" not in err.decode() and not any("alembic" in line for line in lines)


@pytest.mark.parametrize("runner", ["survives", "killed too"])
async def test_sigkill_mid_generation_then_restart_delivers_once(tmp_path: Path, runner: str) -> None:
    async with FakeTelegram() as tg, FakeKie(generation_seconds=120) as kie:
        env = local_env(tmp_path, tg, kie)
        first = await LocalProcess(tmp_path, env, "first").start()
        second = LocalProcess(tmp_path, env, "second")
        user = TelegramUser(tg, USER)
        try:
            # the bot polls only after start-up (imports, migrations): slow on a busy machine
            await until(lambda: "starting the bot" in first.output, 60, "the start-up lines")
            await user.request_video("the cat jumps", message_id=900)
            await until(lambda: kie.create_calls == 1 and checkpoints(tmp_path), 30, "the paid task")
            job, pid = runner_pid(tmp_path)
            first.signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
            if runner == "killed too":
                os.kill(pid, signal.SIGKILL)
                await until(lambda: not alive(pid), 10, "the runner to die")
            else:
                assert alive(pid)  # its own session: the controller's death did not take it
            await second.start()
            await until(lambda: "resuming 1 unfinished" in second.output, 30, "the restart")
            await until(lambda: "adopted" in second.output or "resuming an interrupted" in second.output, 10)
            kie.generation_seconds = 0  # the provider finishes the task now
            [video] = await until(user.videos, 60, "the video after the restart")
        finally:
            await first.stop()
            await second.stop()
            wake(tg)
        assert kie.create_calls == 1 and len(kie.tasks) == 1  # no second paid task

    ledger = await books(database_url(tmp_path), USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    [row] = ledger.generations
    assert (row.phase, row.attempts, row.job_name) == ("Delivered", 1, job)
    assert video.params["caption"].endswith("Balance: 1 credit.")
    assert len(user.videos()) == 1
    if runner == "killed too":
        assert "resuming an interrupted attempt" in second.output
        assert "task_resumed" in (tmp_path / "runs" / f"{job}.log").read_text()
    else:
        assert "runner of an earlier run adopted" in second.output
    assert "Traceback" not in first.output + second.output


async def test_ctrl_c_terminates_the_runner_and_the_next_start_resumes_it(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        # No KIE key: the sandbox provider, whose clip is done `sandbox_latency_seconds` after its
        # task was created — never during the first run, at once in the second.
        first = LocalProcess(tmp_path, local_env(tmp_path, tg, sandbox_latency_seconds=120), "first")
        second = LocalProcess(tmp_path, local_env(tmp_path, tg, sandbox_latency_seconds=0), "second")
        user = TelegramUser(tg, USER)
        try:
            await first.start()
            await until(lambda: "starting the bot" in first.output, 30, "the start-up lines")
            await user.request_video("the cat yawns", message_id=901)
            await until(lambda: checkpoints(tmp_path), 30, "the sandbox task")
            job, pid = runner_pid(tmp_path)
            assert first.proc is not None
            os.killpg(os.getpgid(first.proc.pid), signal.SIGINT)  # Ctrl-C: the terminal's group
            assert await first.wait(20) == 0
            assert not alive(pid)
            assert not (tmp_path / "runs" / f"{job}.result").exists()  # "terminated" is forgotten
            ledger = await books(database_url(tmp_path), USER)
            assert (ledger.generations[0].phase, ledger.generations[0].attempts) == ("Running", 1)

            await second.start()
            await until(user.videos, 60, "the video after the restart")
            second.signal(signal.SIGTERM)  # SIGTERM stops it the same way
            assert await second.wait(20) == 0
        finally:
            await first.stop()
            await second.stop()
            wake(tg)

    assert "no VIDGEN_KIE_API_KEY: using the sandbox provider" in first.output
    assert "stopped; 1 running video(s) interrupted" in first.output
    assert "resuming 1 unfinished generation(s)" in second.output
    assert second.output.rstrip().endswith("vidgen local: stopped")  # nothing was running
    assert "task_resumed" in (tmp_path / "runs" / f"{job}.log").read_text()
    ledger = await books(database_url(tmp_path), USER)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 0)
    [row] = ledger.generations
    assert (row.phase, row.attempts) == ("Delivered", 1)  # the interruption cost no attempt
    assert "Traceback" not in first.output + second.output
