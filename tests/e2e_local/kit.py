"""Helpers for the local-mode tests: fast settings (in-process `Settings` or VIDGEN_* variables for
a `vidgen local` subprocess), a Telegram user who talks to the bot through the fake Bot API (real
aiogram polling), database reads, and an MP4 probe."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests import polling
from tests.fakes.kie import FakeKie
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.telegram import TOKEN, Call, FakeTelegram
from vidgen.core.db.engine import make_engine, make_sessionmaker
from vidgen.core.db.models import CreditEntry, Generation, User
from vidgen.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CAT = (ROOT / "examples" / "cat.jpg").read_bytes()
VIDGEN = str(Path(sys.executable).parent / "vidgen")

#: Everything quick: admission/ticks every 0.2 s, retries after 0.1–0.5 s, polling every 50 ms,
#: tiny sandbox clips, no throttling or progress spacing, /metrics on a free port.
FAST: dict[str, Any] = {
    "admission_interval_seconds": 0.2,
    "resync_interval_seconds": 1.0,
    "retry_base_delay_seconds": 0.1,
    "retry_max_delay_seconds": 0.5,
    "provider_rate_window_seconds": 0.3,
    "progress_min_interval_seconds": 0,
    "throttle_seconds": 0,
    "outbox_sweep_interval_seconds": 0.5,
    "outbox_grace_seconds": 2,
    "delivery_retry_delay_seconds": 0.05,
    "kie_poll_interval_seconds": 0.05,
    "kie_poll_max_interval_seconds": 0.2,
    "kie_retry_wait_seconds": 0.01,
    # a 429 on createTask is waited out in the attempt: waits 0.05, 0.1, 0.15 … (window 0.3 + 2 s in all)
    "kie_rate_limit_first_wait_seconds": 0.05,
    "kie_request_timeout_seconds": 5,
    "kie_deadline_seconds": 60,
    "openai_timeout_seconds": 2,
    "sandbox_short_side": 96,
    "sandbox_fps": 8,
    "sandbox_max_seconds": 1.0,
    "local_process_poll_seconds": 0.1,
    "local_stop_grace_seconds": 5,
    "metrics_port": 0,
}


def values(
    tmp_path: Path,
    tg: FakeTelegram | None = None,
    kie: FakeKie | None = None,
    openai: FakeOpenAI | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}",
        "storage_url": f"file://{tmp_path / 'data'}",
        "local_runs_dir": str(tmp_path / "runs"),
        "kie_api_key": None,
        "openai_api_key": None,
        **FAST,
    }
    if tg is not None:
        out.update(telegram_token=TOKEN, telegram_api_url=tg.url)
    if kie is not None:
        out.update(kie_api_key=kie.api_key, kie_base_url=kie.url, kie_upload_url=kie.url)
    if openai is not None:
        out.update(openai_api_key=openai.api_key, openai_base_url=openai.url)
    out.update(overrides)
    return out


def local_settings(tmp_path: Path, *fakes: Any, **overrides: Any) -> Settings:
    return Settings(_env_file=None, **values(tmp_path, *fakes, **overrides))


def local_env(tmp_path: Path, *fakes: Any, **overrides: Any) -> dict[str, str]:
    """The environment of a `vidgen` subprocess with these settings (nothing inherited but PATH)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    for key, value in values(tmp_path, *fakes, **overrides).items():
        if value is not None:
            env[f"VIDGEN_{key.upper()}"] = str(value)
    return env


async def until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy (bounded)."""
    return await polling.until(predicate, timeout, what, interval=0.05)


# --- the Telegram side ---------------------------------------------------------------------------


def wake(tg: FakeTelegram) -> None:
    """Answer a getUpdates long poll the stopped bot left waiting, so the fake stops at once
    (its server waits for open requests)."""
    tg.push_update(tg.text_update(1, "/noop"))


def buttons(call: Call) -> list[dict[str, Any]]:
    markup = call.json("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class TelegramUser:
    """A user talking to the bot through the fake Bot API (the bot polls it with getUpdates)."""

    tg: FakeTelegram
    user_id: int

    def calls(self, since: int = 0, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.tg.calls[since:]
            if str(c.params.get("chat_id")) == str(self.user_id) and (method is None or c.method == method)
        ]

    def button(self, prefix: str, since: int = 0) -> str | None:
        for call in reversed(self.calls(since)):
            for b in buttons(call):
                if str(b.get("callback_data", "")).startswith(prefix):
                    return str(b["callback_data"])
        return None

    async def wait_button(self, prefix: str, since: int, timeout: float = 15.0) -> str:
        data = await until(lambda: self.button(prefix, since), timeout, f"a {prefix!r} button")
        return str(data)

    def send(self, text: str) -> None:
        self.tg.push_update(self.tg.text_update(self.user_id, text))

    def tap(self, data: str, message_id: int) -> None:
        self.tg.push_update(self.tg.callback_update(self.user_id, data, message_id=message_id))

    async def request_video(self, prompt: str = "the cat waves at the camera", message_id: int = 500) -> str:
        """/start → photo → prompt → Continue → Confirm, as a user taps it. Returns the confirm
        button's data (the request token)."""
        mark = len(self.tg.calls)
        self.send("/start")
        await until(lambda: self.calls(mark, "sendMessage"), 15, "the welcome")
        mark = len(self.tg.calls)
        self.tg.push_update(self.tg.photo_update(self.user_id, CAT))
        await self.wait_button("prompt:", mark)
        mark = len(self.tg.calls)
        self.send(prompt)
        self.tap(await self.wait_button("opt:next", mark), message_id)
        confirm = await self.wait_button("confirm:", mark)
        self.tap(confirm, message_id)
        return confirm

    def texts(self) -> list[str]:
        return self.tg.sent_texts(self.user_id)

    def videos(self) -> list[Call]:
        return self.calls(method="sendVideo")


# --- the database side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Books:
    balance: int
    debits: int
    refunds: int
    generations: list[Generation]


async def books(database_url: str, user_id: int) -> Books:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            balance = await session.scalar(select(User.balance).where(User.id == user_id))

            async def count(kind: str) -> int:
                return int(
                    await session.scalar(
                        select(func.count())
                        .select_from(CreditEntry)
                        .where(CreditEntry.user_id == user_id, CreditEntry.kind == kind)
                    )
                    or 0
                )

            rows = (
                await session.scalars(
                    select(Generation).where(Generation.user_id == user_id).order_by(Generation.created_at)
                )
            ).all()
            return Books(int(balance or 0), await count("debit"), await count("refund"), list(rows))
    finally:
        await engine.dispose()


# --- processes and videos ------------------------------------------------------------------------


def probe_mp4(path: Path) -> tuple[int, float]:
    """(frames, seconds) of an MP4, by decoding every frame with ffmpeg: it plays."""
    import imageio_ffmpeg

    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return int(frames), float(seconds)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


class LocalProcess:
    """`vidgen local` as a subprocess, its output in a file (shown when a test fails)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], name: str = "local") -> None:
        self.cwd = tmp_path
        self.env = env
        self.log = tmp_path / f"{name}.out"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> LocalProcess:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                VIDGEN,
                "local",
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal would give it
            )
        return self

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await self.wait(20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
