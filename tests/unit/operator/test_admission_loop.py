"""The operator's admission loop over in-memory ports and an injected clock: no kopf, no
Kubernetes, no wall clock. Each test drives passes by hand (`run_pass`) or lets the loop run and
waits for what it must do (events), never for time to pass."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from vidgen.core.lifecycle import Phase
from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings
from vidgen.core.status import Generation, iso
from vidgen.operator.admission import Admission
from vidgen.operator.metrics import Metrics


class Store:
    def __init__(self) -> None:
        self.objects: dict[str, Generation] = {}
        self.patches = 0
        self.lists = 0

    def add(self, name: str, user: int, requested: float, **status: Any) -> None:
        spec = GenerationSpec(
            name=name, user_id=user, chat_id=user, photo=f"inputs/{name}.jpg", requested_at=iso(requested)
        )
        self.objects[name] = Generation(name, spec, {"phase": "Queued", **status})

    async def get(self, name: str) -> Generation | None:
        return self.objects.get(name)

    async def list(self) -> list[Generation]:
        self.lists += 1
        return list(self.objects.values())

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Generation | None:
        self.patches += 1
        self.objects[name] = self.objects[name].with_status(patch)
        return self.objects[name]

    async def record_event(
        self, gen: Generation, reason: str, message: str, *, warning: bool = False
    ) -> None:
        return None


class Starter:
    """Plays the reconciler: a start makes the generation Running on the account, now."""

    def __init__(self, store: Store, clock: list[float]) -> None:
        self.store = store
        self.clock = clock
        self.started: list[tuple[str, str]] = []
        self.shown: list[tuple[str, int]] = []
        self.reconciled: list[str] = []
        self.wake = asyncio.Event()

    async def start_attempt(self, name: str, account: str, now: float, *, turn: Any = None) -> bool:
        gen = self.store.objects[name]
        if gen.phase is not Phase.QUEUED:
            return False
        if turn is not None:
            await turn[0]()
            turn[1]()
        await self.store.patch_status(name, {"phase": "Running", "account": account, "startedAt": iso(now)})
        self.started.append((name, account))
        self.wake.set()
        return True

    async def show_position(self, name: str, position: int) -> None:
        await self.store.patch_status(name, {"queuePosition": position})
        self.shown.append((name, position))

    async def reconcile(self, name: str) -> None:
        self.reconciled.append(name)


def make(clock: list[float], **overrides: Any) -> tuple[Admission, Store, Starter]:
    settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    store = Store()
    starter = Starter(store, clock)
    admission = Admission(settings, store, starter, Metrics(), clock=lambda: clock[0])
    return admission, store, starter


async def test_a_full_window_holds_the_queue_and_the_pass_says_when_it_frees() -> None:
    clock = [1_000.0]
    admission, store, starter = make(clock)
    for i in range(30):
        store.add(f"q{i:02}", i, 900.0 + i)
    wake = await admission.run_pass()
    assert [n for n, _ in starter.started] == [f"q{i:02}" for i in range(20)]  # 20 per window, FIFO
    assert wake == pytest.approx(1_010.0)  # the moment the window frees, not a timer tick
    clock[0] = 1_005.0
    assert await admission.run_pass() == pytest.approx(1_010.0) and len(starter.started) == 20
    clock[0] = 1_010.0
    await admission.run_pass()
    assert len(starter.started) == 30


async def test_a_restarted_operator_rebuilds_the_window_from_the_attempts_start_times() -> None:
    clock = [2_000.0]
    admission, store, starter = make(clock)
    for i in range(15):  # started 4 s ago by the operator that died
        store.add(f"r{i:02}", 100 + i, 1_900.0, phase="Running", account="default", startedAt=iso(1_996.0))
    for i in range(10):
        store.add(f"q{i:02}", i, 1_950.0 + i)
    wake = await admission.run_pass()
    assert len(starter.started) == 5  # 20 − the 15 of the last window: no burst past the provider
    assert wake == pytest.approx(2_006.0)


async def test_persistent_refusals_halve_the_budget_for_one_window_only() -> None:
    clock = [3_000.0]
    admission, store, starter = make(clock)
    for i in range(40):
        store.add(f"q{i:02}", i, 2_900.0 + i)
    admission.on_rate_limited("default", now=3_000.0)
    await admission.run_pass()
    assert len(starter.started) == 10
    clock[0] = 3_010.0  # one clean window later: the full rate again
    await admission.run_pass()
    assert len(starter.started) == 30
    assert admission.rate_limit_delay("default", 3_010.0) == pytest.approx(10.0)


async def test_the_queue_is_spread_over_accounts_and_a_refused_key_is_left_out() -> None:
    clock = [4_000.0]
    admission, store, starter = make(clock, provider_accounts="default,spare,third")
    for i in range(70):
        store.add(f"q{i:02}", i, 3_900.0 + i)
    assert admission.take_out_of_rotation("third", "provider_401") is True
    await admission.run_pass()
    by_account = {a: sum(1 for _n, acc in starter.started if acc == a) for a in ("default", "spare", "third")}
    assert by_account == {"default": 20, "spare": 20, "third": 0}
    assert admission.take_out_of_rotation("spare", "provider_402") is True
    assert admission.take_out_of_rotation("default", "provider_401") is False  # none left


async def test_the_ceiling_binds_concurrency_and_an_ending_attempt_is_what_frees_it() -> None:
    clock = [5_000.0]
    admission, store, starter = make(clock, provider_max_running=3)
    for i in range(5):
        store.add(f"q{i}", i, 4_900.0 + i)
    assert await admission.run_pass() is None  # held by the ceiling: only an attempt's end helps
    assert len(starter.started) == 3 and admission.last_plan is not None
    assert admission.last_plan.held_by in ("cap", "accounts")  # the cap is the ceiling here


async def test_position_writes_are_bounded_whatever_the_queue_length() -> None:
    clock = [6_000.0]
    admission, store, starter = make(clock, provider_max_running=1)
    for i in range(3_000):
        store.add(f"q{i:04}", i, 5_000.0 + i)
    await admission.run_pass()  # the first pass shows everyone a position
    while await admission.run_pass() == clock[0]:
        pass  # … in bounded chunks, a pass at a time
    first = len(starter.shown)
    assert first == 2_999
    # the head finishes: one more starts; only the users whose shown position changes are written
    store.objects["q0000"] = store.objects["q0000"].with_status({"phase": "Delivered"})
    before = store.patches
    await admission.run_pass()
    assert len(starter.started) == 2
    assert store.patches - before <= 1 + 10 + 13  # the start, the exact head, one per bucket edge


async def test_the_loop_runs_a_pass_when_asked_and_when_the_window_frees() -> None:
    loop_clock = asyncio.get_running_loop().time
    clock = [0.0]
    admission, store, starter = make(clock, provider_rate_limit=2, provider_rate_window_seconds=0.2)
    admission.clock = loop_clock  # the loop's own clock: it sleeps until the window frees
    for i in range(5):
        store.add(f"q{i}", i, float(i + 1))
    task = asyncio.create_task(admission.run())
    try:
        while len(starter.started) < 5:  # no trigger after the first: the window's wake-ups do it
            starter.wake.clear()
            await asyncio.wait_for(starter.wake.wait(), timeout=60)
        assert [n for n, _ in starter.started] == [f"q{i}" for i in range(5)]
        starts = [store.objects[f"q{i}"].started_at for i in range(5)]
        assert all(s is not None for s in starts)
        assert (
            starts[2] - starts[0] >= 0.2 - 1e-3 and starts[4] - starts[2] >= 0.2 - 1e-3
        )  # never over 2 / 0.2 s
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
