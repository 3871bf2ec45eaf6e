"""The reconciler needs no kopf and no Kubernetes: here it runs over an in-memory store and
executor (what the local controller plugs in, with a subprocess per attempt) and SQLite."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.telegram import FakeTelegram
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.users import ensure_user
from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.lifecycle import JobOutcome, JobState
from vidgen.core.models import GenerationSpec
from vidgen.core.result import RunnerResult, encode
from vidgen.core.settings import Settings
from vidgen.core.status import Generation
from vidgen.operator.delivery import TelegramDelivery
from vidgen.operator.metrics import Metrics
from vidgen.operator.progress import ProgressEditor
from vidgen.operator.reconciler import Reconciler
from vidgen.operator.settlement import Settlement
from vidgen.operator.termination import process_outcome
from vidgen.storage import FileStorage

from .conftest import VIDEO, ok_result


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, Generation] = {}
        self.events: list[tuple[str, str]] = []

    async def get(self, name: str) -> Generation | None:
        return self.objects.get(name)

    async def list(self) -> list[Generation]:
        return list(self.objects.values())

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Generation | None:
        if name not in self.objects:
            return None
        self.objects[name] = self.objects[name].with_status(patch)
        return self.objects[name]

    async def record_event(
        self, gen: Generation, reason: str, message: str, *, warning: bool = False
    ) -> None:
        self.events.append((gen.name, reason))


class ProcessTable:
    """Stands in for local subprocesses: (returncode, termination-log text) per attempt."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []
        self.exits: dict[str, tuple[int, str]] = {}

    async def start(self, gen: Generation, attempt: int) -> str:
        run = f"{gen.name}-a{attempt}"
        if (gen.name, attempt) not in self.started:
            self.started.append((gen.name, attempt))
        return run

    async def outcome(self, gen: Generation) -> JobOutcome:
        if gen.job_name is None:
            return JobOutcome(JobState.MISSING)
        returncode, message = self.exits.get(gen.job_name, (None, ""))  # type: ignore[assignment]
        return process_outcome(returncode, message)

    async def stop(self, gen: Generation) -> None:
        return None

    def exit(self, run: str, result: RunnerResult) -> None:
        self.exits[run] = (result.exit_code, encode(result) + "\n")


async def test_a_generation_settles_over_in_memory_ports_and_sqlite(
    sqlite_sessions: SessionMaker, tmp_path: Path
) -> None:
    spec = GenerationSpec(name="vg-5-local", user_id=5, chat_id=50, photo="inputs/p.jpg", status_message_id=9)
    async with transaction(sqlite_sessions) as session:
        await ensure_user(session, 5, free_credits=2)
        await create_request(session, spec, cost=1)
    storage = FileStorage(tmp_path)
    storage.put("outputs/vg-5-local.mp4", VIDEO)
    store, processes = MemoryStore(), ProcessTable()
    store.objects[spec.name] = Generation(spec.name, spec)
    settings = Settings(retry_base_delay_seconds=0.0, progress_min_interval_seconds=0.0)
    async with FakeTelegram() as tg:
        bot = tg.bot()
        clock = [1_800_000_000.0]
        reconciler = Reconciler(
            settings,
            store,
            processes,
            Settlement(sqlite_sessions),
            TelegramDelivery(bot, storage),
            ProgressEditor(bot, 0.0),
            Metrics(),
            clock=lambda: clock[0],
        )
        try:
            await reconciler.reconcile(spec.name)  # Pending → Queued
            await reconciler.admission.run_pass()  # → admitted (the loop's pass, run by hand)
            assert store.objects[spec.name].phase == "Running"
            processes.exit(
                "vg-5-local-a1", RunnerResult.failed(Failure(ErrorClass.TEMPORARY, "provider_500"))
            )
            await reconciler.reconcile(spec.name)  # → requeued (no delay here)
            clock[0] += settings.provider_rate_window_seconds  # a rate-limit-free retry delay passes
            await reconciler.admission.run_pass()  # admitted again
            assert (store.objects[spec.name].phase, store.objects[spec.name].attempts) == ("Running", 2)
            processes.exit("vg-5-local-a2", ok_result(spec.name))
            await reconciler.reconcile(spec.name)
        finally:
            await bot.session.close()
    gen = store.objects[spec.name]
    assert (
        gen.phase == "Delivered"
        and gen.attempts == 2
        and processes.started == [(spec.name, 1), (spec.name, 2)]
    )
    assert [r for _n, r in store.events] == [
        "Queued",
        "Started",
        "Retrying",
        "Started",
        "Generated",
        "Delivering",
        "Delivered",
    ]
    (video,) = tg.calls_to("sendVideo")
    assert video.params["chat_id"] == "50" and video.files["video"] == VIDEO
