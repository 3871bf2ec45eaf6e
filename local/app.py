"""`vidgen local`: the bot (polling), the local controller and runner subprocesses in one process,
on the settings' database (SQLite `./vidgen.db` by default, migrated at start) and storage
(`./data` by default).

Stopping (SIGINT/SIGTERM, or `stop` being set): the bot stops polling, work in flight gets
`local_stop_grace_seconds`, and the runners are terminated — their attempts are not failed: they
resume at the next start, and each runner resumes its provider task from its checkpoint, so no
second task is paid for. A restart resumes every unfinished generation.

One `vidgen local` per runs folder (a lock file), so two never drive the same generations.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from vidgen.core.db.engine import make_engine, make_sessionmaker
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.storage import open_storage

from .controller import LocalController
from .generate import LOCAL_USER_ID, migrate
from .launcher import LocalLauncher
from .store import Scope

log = get_logger(__name__)

LOCK_FILE = "local.lock"


class LocalModeError(Exception):
    """Local mode cannot start (one line for the user)."""


@dataclass
class LocalRun:
    resumed: list[str] = field(default_factory=list)  # open generations found at start
    interrupted: list[str] = field(default_factory=list)  # runner attempts stopped at the end


def say(line: str) -> None:
    print(f"vidgen local: {line}", file=sys.stderr, flush=True)


class RunsLock:
    """An exclusive lock on the runs folder (released by the kernel if the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._file: IO[str] | None = None

    @classmethod
    def take(cls, folder: str) -> RunsLock:
        lock = cls(Path(folder).resolve())
        lock.acquire()
        return lock

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise LocalModeError(
                f"another vidgen local (pid {owner}) is running on {self.path.parent}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def describe(settings: Settings) -> list[str]:
    """What local mode runs on, for the start-up lines."""
    url = make_url(settings.database_url)
    database = (
        f"SQLite {url.database}"
        if url.drivername.startswith("sqlite")
        else url.render_as_string(hide_password=True)
    )
    lines = [f"database {database} (migrated), storage {settings.storage_url}"]
    if settings.secret("kie_api_key"):
        lines.append(f"provider KIE.AI at {settings.kie_base_url}")
    else:
        lines.append(
            "no VIDGEN_KIE_API_KEY: using the sandbox provider (short synthetic videos made "
            "locally with ffmpeg, nothing is paid)"
        )
    if not settings.secret("openai_api_key"):
        lines.append("no VIDGEN_OPENAI_API_KEY: prompts are used as written (a default one when empty)")
    return lines


async def run_local(
    settings: Settings,
    stop: asyncio.Event,
    *,
    announce: Callable[[str], None] = say,
    api_started: asyncio.Event | None = None,
) -> LocalRun:
    """Run until `stop` is set; returns what was resumed and what was interrupted. The bot runs
    when there is a Telegram token, the HTTP API when `api_port` is set (at least one of them)."""
    from vidgen.core.chatless import ChatlessDelivery

    telegram = bool(settings.secret("telegram_token"))
    if not telegram and settings.api_port is None:
        settings.require("telegram_token")  # one line: set a token, or VIDGEN_API_PORT
    lock = RunsLock.take(settings.local_runs_dir)
    report = LocalRun()
    try:
        await asyncio.to_thread(migrate, settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        storage = open_storage(settings)
        for line in describe(settings):
            announce(line)
        operator_bot: Any = None
        progress: Any
        if telegram:
            from vidgen.operator.delivery import TelegramDelivery, make_bot
            from vidgen.operator.progress import ProgressEditor

            operator_bot = make_bot(settings)  # the operator's own Bot, as in a cluster
            progress = ProgressEditor(operator_bot, settings.progress_min_interval_seconds)
            delivery = ChatlessDelivery(TelegramDelivery(operator_bot, storage))
        else:
            from .generate import NoProgress

            progress = NoProgress()
            delivery = ChatlessDelivery(None)  # API requests only: the video stays in storage
        controller = LocalController(
            settings,
            sessions,
            delivery=delivery,
            progress=progress,
            scope=Scope(exclude_users=frozenset({LOCAL_USER_ID})),  # `vidgen generate` drives its own
        )
        launcher = LocalLauncher(controller)
        try:
            report.resumed = await controller.start()
            if report.resumed:
                announce(f"resuming {len(report.resumed)} unfinished generation(s)")
            parts: list[Awaitable[None]] = []
            if settings.api_port is not None:
                from vidgen.api.server import serve_api

                # This machine only, unless VIDGEN_API_HOST says otherwise (a cluster binds all).
                host = settings.api_host if "api_host" in settings.model_fields_set else "127.0.0.1"
                announce(
                    f"serving the HTTP API on http://{host}:{settings.api_port} "
                    f"(docs: http://127.0.0.1:{settings.api_port}/docs; keys: vidgen api-keys create)"
                )
                parts.append(
                    serve_api(
                        settings,
                        sessions,
                        storage,
                        launcher,
                        controller,
                        stop,
                        port=settings.api_port,
                        host=host,
                        allow_loopback=True,  # local mode: webhooks to this machine are the point
                        started=api_started,
                    )
                )
            if telegram:
                from vidgen.bot.app import serve

                announce("starting the bot (polling); Ctrl-C stops (running videos resume at the next start)")
                parts.append(
                    serve(
                        settings,
                        sessions=sessions,
                        storage=storage,
                        launcher=launcher,
                        stop=stop,
                        handle_signals=False,
                    )
                )
            else:
                announce("no VIDGEN_TELEGRAM_TOKEN: the HTTP API only; Ctrl-C stops")
            try:
                await asyncio.gather(*parts)
            except OSError as exc:
                from vidgen.api.server import ApiStartError

                if isinstance(exc, ApiStartError):
                    raise LocalModeError(str(exc)) from None
                raise
        finally:
            report.interrupted = await controller.stop()
            await progress.aclose()
            if operator_bot is not None:
                await operator_bot.session.close()
            await engine.dispose()
    finally:
        lock.release()
    if report.interrupted:
        announce(
            f"stopped; {len(report.interrupted)} running video(s) interrupted "
            "(runner terminated; they resume at the next start, on the same provider task)"
        )
    else:
        announce("stopped")
    return report
