"""The bot's throughput and latency: Telegram updates fed to the real Dispatcher (every router and
middleware: DB session, user upsert, i18n, throttling, the handlers and services) on real
PostgreSQL, answering the fake Bot API (tests/fakes/telegram.py) over real HTTP.

Each simulated user does a whole visit, 11 updates, each after the previous one's answer:
/start (signup + 2 credits), Balance, a photo (downloaded from Telegram and stored), a prompt,
Continue, Confirm (the debit + generation + outbox transaction, then the launch), Buy, a package
(invoice), the pre-checkout query, the successful payment (credited once), /start again.

- The bot runs on ONE core (this process is pinned to CPU 0); the fake Bot API runs in its own
  process on the other core, so its work is not counted. PostgreSQL runs where the OS puts it.
- Telegram is excluded from the latency: each update's handler time is its wall time minus the
  time spent waiting for Bot API calls and file downloads (measured in the bot's HTTP session).
- Two runs: one update at a time (the handler's own time, no queueing), and --concurrency
  users at once (throughput; latency then includes waiting for the one core).

- The framework's floor: a bare aiogram Dispatcher on the same Bot session, answering each of
  the same updates with one sendMessage (no database, no middlewares), same concurrency.
- Open loop at half load: updates arrive on a fixed schedule at half of vidgen's measured
  maximum (each the next step of a user whose previous update was answered, new users as
  needed); the latency of each is from its scheduled arrival to its handler's end, Telegram
  excluded, so time spent queued for the core counts.

Run: `.venv/bin/python bench/bot.py` (under a minute); `--users 1000 --concurrency 100`;
`--json` prints, as its last line, `{"updates_per_second": F, "floor_updates_per_second": F,
"p99_ms_at_half_load": F}`. Throttling is off (`throttle_seconds=0`): simulated users click faster
than people.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, machine, median, pct, quiet_logs

quiet_logs()

from aiogram import Bot, Dispatcher  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import Update  # noqa: E402

from tests.fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from tests.integration.bot.harness import CAT, RecordingLauncher  # noqa: E402
from vidgen.bot.dispatcher import create_dispatcher  # noqa: E402
from vidgen.core.db.engine import make_engine, make_sessionmaker  # noqa: E402
from vidgen.core.settings import Settings  # noqa: E402
from vidgen.storage import FileStorage  # noqa: E402

PHOTO_ID = "bench-cat"
#: Update ids are unique across the runs of one invocation (they share a database, and the bot
#: skips an update id it has seen).
UPDATE_IDS = itertools.count(1)
SPENT: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("telegram_time", default=None)

SERVER = f"""
import asyncio, sys
sys.path.insert(0, {str(ROOT)!r})
from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import CAT

async def main():
    async with FakeTelegram() as tg:
        tg.add_file(CAT, file_id={PHOTO_ID!r})
        print(tg.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


class TimedSession(AiohttpSession):
    """Adds the time of every Bot API call and file download to the current update's total, and
    remembers the latest inline keyboard sent to each chat (the buttons a user would tap)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.screens: dict[int, list[str]] = {}

    @staticmethod
    def _add(seconds: float) -> None:
        spent = SPENT.get()
        if spent is not None:
            spent[0] += seconds

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await super().make_request(bot, method, timeout)
        finally:
            self._add(time.perf_counter() - started)
            markup = getattr(method, "reply_markup", None)
            chat = getattr(method, "chat_id", None)
            if markup is not None and chat is not None and hasattr(markup, "inline_keyboard"):
                self.screens[int(chat)] = [
                    b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data
                ]

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        started = time.perf_counter()
        try:
            async for chunk in super().stream_content(*args, **kwargs):
                yield chunk
        finally:
            self._add(time.perf_counter() - started)


@dataclass
class Sample:
    kind: str
    total: float
    handler: float


@dataclass
class Visitor:
    """Builds a user's updates; buttons come from what the bot last sent to the chat."""

    session: TimedSession
    builder: FakeTelegram

    def button(self, user: int, prefix: str) -> str:
        found = [d for d in self.session.screens.get(user, []) if d.startswith(prefix)]
        if not found:
            raise RuntimeError(f"user {user}: no {prefix!r} button in {self.session.screens.get(user)}")
        return found[0]

    def photo(self, user: int) -> dict[str, Any]:
        size = {"file_id": PHOTO_ID, "file_unique_id": "u-cat", "width": 512, "height": 512}
        return {"message": self.builder.message(user, photo=[{**size, "file_size": len(CAT)}])}

    def visit(self, user: int) -> list[tuple[str, Any]]:
        """(kind, update or a function of the visitor making it when it is due)."""
        b = self.builder
        return [
            ("start", b.text_update(user, "/start")),
            ("balance", b.callback_update(user, "menu:balance", message_id=10)),
            ("photo", self.photo(user)),
            ("prompt", b.text_update(user, "the cat turns its head and smiles")),
            ("options", lambda: b.callback_update(user, self.button(user, "opt:next"), message_id=500)),
            ("confirm", lambda: b.callback_update(user, self.button(user, "confirm:"), message_id=500)),
            ("buy", b.callback_update(user, "menu:buy", message_id=10)),
            ("package", b.callback_update(user, "buy:p5", message_id=10)),
            ("pre_checkout", b.pre_checkout_update(user, "p5", 100)),
            ("payment", b.successful_payment_update(user, "p5", 100, charge_id=f"charge-{user}")),
            ("start_again", b.text_update(user, "/start")),
        ]


def floor_dispatcher() -> Dispatcher:
    """The framework's floor: a bare Dispatcher answering every update with one sendMessage."""
    dp = Dispatcher()

    async def reply(event: Any, bot: Bot, event_from_user: Any) -> None:
        await bot.send_message(event_from_user.id, "ok")

    dp.message.register(reply)
    dp.callback_query.register(reply)
    dp.pre_checkout_query.register(reply)
    return dp


class FloorVisitor:
    """The same visit for the floor (it shows no buttons: the taps carry fixed data)."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor

    def visit(self, user: int) -> list[tuple[str, Any]]:
        b = self.visitor.builder
        steps = self.visitor.visit(user)
        fixed = {
            "options": b.callback_update(user, "opt:next", message_id=500),
            "confirm": b.callback_update(user, "confirm:x", message_id=500),
        }
        return [(kind, fixed.get(kind, update)) for kind, update in steps]


async def run(
    args: argparse.Namespace,
    url: str,
    port: int,
    users: range,
    concurrency: int,
    *,
    floor: bool = False,
    rate: float = 0.0,
) -> list[Sample]:
    """Closed loop: `concurrency` users at once, each update after the previous one's answer.
    With `rate`, open loop: len(users) × 11 updates arriving `rate` per second."""
    engine = make_engine(url, relaxed_commit=True, pool_size=max(10, concurrency), max_overflow=10)
    sessions = make_sessionmaker(engine)
    session = TimedSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}"))
    bot = Bot(TOKEN, session=session)
    with tempfile.TemporaryDirectory(prefix="vidgen-bench-bot-") as tmp:
        settings = Settings(_env_file=None, telegram_token=TOKEN, throttle_seconds=0)  # type: ignore[call-arg,unused-ignore]
        dp = (
            floor_dispatcher()
            if floor
            else create_dispatcher(
                settings, sessions=sessions, storage=FileStorage(Path(tmp)), launcher=RecordingLauncher()
            )
        )
        real = Visitor(session, FakeTelegram())
        visitor: Any = FloorVisitor(real) if floor else real
        samples: list[Sample] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for user in users:
            queue.put_nowait(user)

        async def one(kind: str, raw: dict[str, Any], arrived: float | None = None) -> None:
            raw["update_id"] = next(UPDATE_IDS)
            spent = [0.0]
            token = SPENT.set(spent)
            started = time.perf_counter() if arrived is None else arrived
            try:
                await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
            finally:
                total = time.perf_counter() - started
                SPENT.reset(token)
            samples.append(Sample(kind, total, total - spent[0]))

        async def worker() -> None:
            while not queue.empty():
                user = queue.get_nowait()
                for kind, update in visitor.visit(user):
                    await one(kind, update() if callable(update) else update)

        async def open_loop() -> None:
            """Arrivals on a fixed schedule; each is the next step of a user whose previous
            update was answered (a new user when none is ready)."""
            fresh = iter(users)
            ready: list[tuple[int, list[tuple[str, Any]]]] = []
            running: set[asyncio.Task[None]] = set()
            total = len(users) * 11
            start = time.perf_counter()

            async def step(user: int, steps: list[tuple[str, Any]], arrived: float) -> None:
                kind, update = steps[0]
                await one(kind, update() if callable(update) else update, arrived)
                if len(steps) > 1:
                    ready.append((user, steps[1:]))

            for i in range(total):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if ready:
                    user, steps = ready.pop(0)
                else:
                    user = next(fresh, None)  # type: ignore[arg-type]
                    if user is None:
                        break
                    steps = visitor.visit(user)
                task = asyncio.create_task(step(user, steps, due))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.gather(*running)

        if rate:
            await open_loop()
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        await bot.session.close()
        await dp.storage.close()
    await engine.dispose()
    return samples


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(label: str, samples: list[Sample], seconds: float, cpu: float) -> None:
    totals = [s.total for s in samples]
    handler = [s.handler for s in samples]
    print(f"\n[{label}] {len(samples)} updates in {seconds:.2f} s: {len(samples) / seconds:.0f} updates/s")
    print(
        f"  bot process CPU                   {cpu:.2f} s ({cpu / seconds:.0%} of its core),"
        f" {cpu / len(samples) * 1000:.2f} ms per update"
    )
    print(
        f"  handler time (Telegram excluded)  p50 {median(handler) * 1000:.1f} ms, p99 {pct(handler, 99) * 1000:.1f} ms,"
        f" max {max(handler) * 1000:.1f} ms"
    )
    print(
        f"  wall time (with Telegram)         p50 {median(totals) * 1000:.1f} ms, p99 {pct(totals, 99) * 1000:.1f} ms"
    )
    kinds = sorted({s.kind for s in samples}, key=[s.kind for s in samples].index)
    cells = []
    for kind in kinds:
        mine = [s.handler for s in samples if s.kind == kind]
        cells.append(f"{kind} {median(mine) * 1000:.1f}/{pct(mine, 99) * 1000:.1f}")
    print(f"  handler p50/p99 ms by update      {', '.join(cells)}")


async def main_async(args: argparse.Namespace, port: int) -> None:
    from common import fresh_database

    with fresh_database() as url:
        if args.json:
            await figures(args, url, port)
            return
        warm = await run(args, url, port, range(1, 11), 1)  # imports, pools, first queries
        del warm
        started, cpu = time.perf_counter(), cpu_seconds()
        sequential = await run(args, url, port, range(1000, 1000 + args.sequential_users), 1)
        report("one update at a time", sequential, time.perf_counter() - started, cpu_seconds() - cpu)
        started, cpu = time.perf_counter(), cpu_seconds()
        first = 10_000
        concurrent = await run(args, url, port, range(first, first + args.users), args.concurrency)
        report(
            f"{args.concurrency} users at once",
            concurrent,
            time.perf_counter() - started,
            cpu_seconds() - cpu,
        )


async def figures(args: argparse.Namespace, url: str, port: int) -> None:
    """The three figures of `--json`, in one run on one core."""
    await run(args, url, port, range(1, 11), 1)  # warm up: imports, pools, first queries
    await run(args, url, port, range(11, 21), 1, floor=True)
    started, cpu = time.perf_counter(), cpu_seconds()
    samples = await run(args, url, port, range(10_000, 10_000 + args.users), args.concurrency)
    seconds = time.perf_counter() - started
    report(f"vidgen, {args.concurrency} users at once", samples, seconds, cpu_seconds() - cpu)
    vidgen = len(samples) / seconds
    started, cpu = time.perf_counter(), cpu_seconds()
    samples = await run(args, url, port, range(20_000, 20_000 + args.users), args.concurrency, floor=True)
    seconds = time.perf_counter() - started
    report(
        f"floor (bare aiogram, one sendMessage), {args.concurrency} users at once",
        samples,
        seconds,
        cpu_seconds() - cpu,
    )
    floor = len(samples) / seconds
    half = vidgen / 2
    started, cpu = time.perf_counter(), cpu_seconds()
    samples = await run(args, url, port, range(30_000, 30_000 + args.users), args.concurrency, rate=half)
    seconds = time.perf_counter() - started
    report(f"vidgen open loop at {half:.0f} updates/s (half load)", samples, seconds, cpu_seconds() - cpu)
    p99 = pct([s.handler for s in samples], 99) * 1000
    print(
        json.dumps(
            {
                "updates_per_second": round(vidgen, 1),
                "floor_updates_per_second": round(floor, 1),
                "p99_ms_at_half_load": round(p99, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users", type=int, default=400, help="users in the concurrent run (11 updates each)"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="users at once in the concurrent run")
    parser.add_argument("--sequential-users", type=int, default=60, help="users in the one-at-a-time run")
    parser.add_argument(
        "--json",
        action="store_true",
        help="vidgen's maximum, the framework's floor and p99 at half load; the figures as the last line",
    )
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(server.pid, set(cpus[1:]))
            os.sched_setaffinity(0, {cpus[0]})
        print(machine())
        print(f"bot pinned to CPU {sorted(os.sched_getaffinity(0))}; fake Bot API in process {server.pid}")
        asyncio.run(main_async(args, port))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()
