"""`vidgen runner` as the Job runs it: a real subprocess, the result line in the termination
log, exit codes 0/1/2, structured logs bound to the generation name, SIGTERM, and a run killed
after task creation that is restarted without a second createTask."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.models import checkpoint_key, photo_key, video_key
from vidgen.core.result import MAX_BYTES
from vidgen.storage import FileStorage

from .conftest import FAST, NAME

VIDGEN = str(Path(sys.executable).parent / "vidgen")


def env_for(tmp_path: Path, kie: FakeKie | None = None, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "VIDGEN_STORAGE_URL": f"file://{tmp_path / 'data'}",
        "VIDGEN_LOG_FORMAT": "json",
        **{f"VIDGEN_{k.upper()}": str(v) for k, v in FAST.items()},
    }
    if kie is not None:
        env |= {
            "VIDGEN_KIE_API_KEY": kie.api_key,
            "VIDGEN_KIE_BASE_URL": kie.url,
            "VIDGEN_KIE_UPLOAD_URL": kie.url,
        }
    env |= extra
    return env


async def start(tmp_path: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        VIDGEN, "runner", *args, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def run(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await start(tmp_path, env, *args)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def std_args(log: Path, *more: str) -> list[str]:
    return ["--name", NAME, "--photo", photo_key(NAME), "--termination-log", str(log), *more]


def the_line(log: Path) -> dict:
    text = log.read_text()
    assert text.endswith("\n") and text.count("\n") == 1 and len(text.encode()) <= MAX_BYTES + 1
    return json.loads(text)


async def test_success_writes_the_line_and_exits_0(tmp_path: Path, storage: FileStorage) -> None:
    log = tmp_path / "termination-log"
    code, out, err = await run(
        tmp_path, env_for(tmp_path), *std_args(log, "--prompt", "hello", "--attempt", "1")
    )
    assert code == 0, err
    line = the_line(log)
    assert line["ok"] is True and line["video"] == video_key(NAME)
    assert {"bytes", "duration", "model", "taskId", "prompt"} <= set(line)
    assert line["prompt"] == "hello" and line["promptEnhanced"] is False
    assert storage.exists(video_key(NAME)) and line["bytes"] == len(storage.get(video_key(NAME)))
    assert out.strip() == log.read_text().strip()  # echoed on stdout
    # structured JSON logs on stderr, every line bound to the generation
    events = [json.loads(raw) for raw in err.splitlines() if raw.strip()]
    assert events and all(e["generation"] == NAME for e in events)
    assert {"task_created", "generation_stored"} <= {e["event"] for e in events}


async def test_default_termination_log_path_comes_from_settings(tmp_path: Path, storage: FileStorage) -> None:
    log = tmp_path / "from-settings"
    env = env_for(tmp_path, VIDGEN_TERMINATION_LOG_PATH=str(log))
    code, _, err = await run(tmp_path, env, "--name", NAME, "--photo", photo_key(NAME))
    assert code == 0, err
    assert the_line(log)["ok"] is True


@pytest.mark.parametrize(
    ("case", "extra_args", "extra_env", "exit_code", "cls", "code"),
    [
        ("retryable", [], {"VIDGEN_SANDBOX_FAILURES": "1:500"}, 1, "TEMPORARY", "provider_500"),
        ("rate_limited", [], {"VIDGEN_SANDBOX_FAILURES": "*:429"}, 1, "RATE_LIMIT", "provider_429"),
        ("missing_photo", ["--photo", "inputs/none.jpg"], {}, 2, "BILLING", "photo_missing"),
        ("overlong_prompt", ["--prompt", "p" * 1200], {}, 2, "USER_VIOLATION", "prompt_too_long"),
        ("bad_duration", ["--duration", "ten"], {}, 2, "USER_VIOLATION", "bad_duration"),
        ("bad_aspect_ratio", ["--aspect-ratio", "round"], {}, 2, "USER_VIOLATION", "bad_aspect_ratio"),
        ("bad_setting", [], {"VIDGEN_STORAGE_URL": "ftp://nowhere"}, 2, "BILLING", "config"),
    ],
)
async def test_failures_write_the_line_and_the_exit_code(
    case: str, extra_args: list[str], extra_env: dict[str, str], exit_code: int, cls: str, code: str,
    tmp_path: Path, storage: FileStorage,
) -> None:  # fmt: skip
    log = tmp_path / "termination-log"
    code_, _, err = await run(tmp_path, env_for(tmp_path, **extra_env), *std_args(log), *extra_args)
    assert code_ == exit_code, err
    line = the_line(log)
    assert line["ok"] is False and line["class"] == cls and line["code"] == code and line["detail"]
    assert "Traceback" not in err and "Traceback" not in line["detail"]


async def test_sigterm_stops_with_a_retryable_line(tmp_path: Path, storage: FileStorage) -> None:
    log = tmp_path / "termination-log"
    proc = await start(tmp_path, env_for(tmp_path, VIDGEN_SANDBOX_LATENCY_SECONDS="60"), *std_args(log))
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while b"task_created" not in await proc.stderr.readline():
            pass
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert proc.returncode == 1
    line = the_line(log)
    assert (line["class"], line["code"]) == ("TEMPORARY", "terminated")
    assert storage.exists(checkpoint_key(NAME))  # the next attempt resumes the task


async def test_killed_after_task_creation_restart_makes_no_second_create_task(
    tmp_path: Path, storage: FileStorage
) -> None:
    log = tmp_path / "termination-log"
    async with FakeKie(generation_seconds=120) as kie:
        env = env_for(tmp_path, kie)
        proc = await start(tmp_path, env, *std_args(log, "--attempt", "1"))
        deadline = time.monotonic() + 30
        # the fake saw createTask and is being polled (the checkpoint is written before polling)
        while not (kie.create_calls == 1 and kie.polls() >= 1):
            assert time.monotonic() < deadline and proc.returncode is None, "runner never reached polling"
            await asyncio.sleep(0.02)
        assert storage.exists(checkpoint_key(NAME))
        proc.kill()  # SIGKILL: no cleanup, no result line (a lost node, an OOM kill)
        await proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert not log.exists()
        (task_id,) = kie.tasks

        kie.generation_seconds = 0  # the provider finishes meanwhile
        code, _, err = await run(tmp_path, env, *std_args(log, "--attempt", "2"))

        assert code == 0, err
        assert kie.create_calls == 1  # the restarted attempt resumed; nothing was paid twice
        assert len(kie.calls("upload")) == 1
        line = the_line(log)
        assert line["ok"] is True and line["taskId"] == task_id
        assert storage.exists(video_key(NAME)) and storage.get(video_key(NAME)) == kie.video
        assert "task_resumed" in err
