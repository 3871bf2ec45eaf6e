"""The simulated cluster's moving parts, shared by the fault-injection tests and
bench/throughput.py:

- `ProviderKie`: the fake KIE.AI (tests/fakes/kie.py) with a generation time per task drawn from
  a range, a ceiling on tasks generating at once, a 429 "storm" (for a time, or for a number of creations), and a log of every
  creation's outcome (accepted / refused with 429).
- `RunnerKubelet`: plays the kubelet for the operator running on kmock. For every Job the
  operator creates it runs the real runner in-process (`run_generation`, against the fake
  KIE.AI), then writes the result as the pod's termination message and marks the Job finished.
  A `kill` policy can cut an attempt off at a chosen moment (the pod dies: no message).
- `seed_request`: what the bot does before the launch (user, debit + row + outbox in one
  transaction, the photo in storage).
- `money_problems` / `outcome_problems`: the invariants checked after every fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from tests.fakes.kie import FakeKie
from tests.integration.operator.conftest import JOBS_RESOURCE, NS, Cluster
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request
from vidgen.core.db.models import CreditEntry, User
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec, photo_key, video_key
from vidgen.core.ports import Storage
from vidgen.core.result import RunnerResult
from vidgen.core.settings import Settings
from vidgen.core.status import is_settled, iso
from vidgen.runner import checkpoint
from vidgen.runner.pipeline import RunRequest, run_generation

ROOT = Path(__file__).resolve().parents[3]
CAT = (ROOT / "examples" / "cat.jpg").read_bytes()

#: The runner against the fakes: fast polling, short waits between retried polls.
RUNNER_FAST: dict[str, Any] = {
    "kie_poll_interval_seconds": 0.05,
    "kie_poll_max_interval_seconds": 0.2,
    "kie_retry_wait_seconds": 0.01,
    "kie_request_timeout_seconds": 5.0,
    "kie_deadline_seconds": 30.0,
}


def runner_settings(base: Settings, kie: FakeKie, **overrides: Any) -> Settings:
    """The runner's settings: the operator's (storage) plus the fake KIE.AI, no OpenAI key."""
    values = {
        **base.model_dump(),
        **RUNNER_FAST,
        "kie_api_key": kie.api_key,
        "kie_base_url": kie.url,
        "kie_upload_url": kie.url,
        "openai_api_key": None,
        **overrides,
    }
    return Settings.model_validate(values)


# --- the provider ------------------------------------------------------------------------------


class ProviderKie(FakeKie):
    """FakeKie with a per-task generation time in `latency` (low, high; seeded), at most
    `ceiling` tasks generating at once (more: code 429, as KIE.AI answers its limits), a storm
    (`storm(seconds)`: every creation refused with 429 until then), and the outcome of every
    creation in `accepted` / `refused` (monotonic times)."""

    def __init__(
        self,
        *,
        latency: tuple[float, float] = (0.0, 0.0),
        ceiling: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(generation_seconds=latency[1], **kwargs)
        self.latency_range = latency
        self.ceiling = ceiling
        self.rng = random.Random(seed)
        self.durations: dict[str, float] = {}
        self.accepted: list[float] = []
        self.refused: list[float] = []
        self.storm_until = 0.0
        self.storm_left = 0  # creations still to refuse (a count-based storm)
        self.peak_generating = 0
        self._ends: list[float] = []

    def storm(self, seconds: float) -> None:
        self.storm_until = time.monotonic() + seconds

    def refuse_next(self, count: int) -> None:
        """A storm measured in requests, not time: the next `count` creations get 429."""
        self.storm_left = count

    def generating(self, now: float) -> int:
        self._ends = [end for end in self._ends if end > now]
        return len(self._ends)

    def _admit(self) -> web.Response | None:
        now = time.monotonic()
        if self.storm_left > 0:
            self.storm_left -= 1
            self.refused.append(now)
            return self.answer(429, "Rate limited: too many requests, please slow down")
        if now < self.storm_until:
            self.refused.append(now)
            return self.answer(429, "Rate limited: too many requests, please slow down")
        if self.ceiling is not None and self.generating(now) >= self.ceiling:
            self.refused.append(now)
            return self.answer(429, "Rate limited: too many tasks running")
        refused = super()._admit()
        if refused is None:
            self.accepted.append(now)
        elif json.loads(refused.body)["code"] == 429:  # type: ignore[arg-type]
            self.refused.append(now)
        return refused

    def _new_task(self, model: str, kind: str, params: dict[str, Any]) -> Any:
        task = super()._new_task(model, kind, params)
        low, high = self.latency_range
        seconds = self.rng.uniform(low, high)
        self.durations[task.task_id] = seconds
        self._ends.append(task.created + seconds)
        self.peak_generating = max(self.peak_generating, self.generating(time.monotonic()))
        return task

    def _progress(self, task: Any) -> str:
        seconds = self.durations.get(task.task_id, self.generation_seconds)
        elapsed = time.monotonic() - task.created
        if elapsed >= seconds:
            return "fail" if task.fail else "success"
        return "waiting" if elapsed < seconds * 0.1 else "generating"

    def creations_for(self, name: str) -> list[float]:
        """When a task was created (kept: a createTask refused with 429 keeps nothing) for
        generation `name` (its photo's upload name), on the fake's clock."""
        out = []
        for task in self.tasks.values():
            params = task.params if isinstance(task.params, dict) else {}
            inner = params.get("input") if isinstance(params.get("input"), dict) else params
            urls = (
                inner.get("image_urls")
                or inner.get("input_urls")
                or params.get("imageUrls")
                or [inner.get("image_url") or params.get("imageUrl") or ""]
            )
            if urls and str(urls[0]).rsplit("/", 1)[-1].rsplit(".", 1)[0] == name:
                out.append(task.created)
        return sorted(out)


# --- the kubelet -------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One Job as the kubelet ran it."""

    generation: str
    attempt: int
    job: str
    started: float  # monotonic
    ended: float | None = None
    needed_task: bool = True  # no checkpoint and no stored video when it started
    killed: bool = False
    result: RunnerResult | None = None


def parse_runner_args(args: list[str]) -> RunRequest:
    """The Job's container args (`runner --name … --attempt N …`) as the runner would read them."""
    values = dict(zip(args[1::2], args[2::2], strict=False))
    return RunRequest(
        name=values["--name"],
        photo=values["--photo"],
        prompt=values.get("--prompt", ""),
        model=values.get("--model", "sora-2-image-to-video"),
        aspect_ratio=values.get("--aspect-ratio", "portrait"),
        duration_seconds=int(values.get("--duration", "10")),
        attempt=int(values.get("--attempt", "1")),
    )


KillPolicy = Callable[[str, int], float | None]


@dataclass
class RunnerKubelet:
    """Runs every Job the operator creates with the real runner, in-process. `kill(generation,
    attempt)` may return a number of seconds after which that attempt's pod dies (the runner is
    cancelled and the pod ends without a termination message)."""

    cluster: Cluster
    settings: Settings
    storage: Storage
    kill: KillPolicy | None = None
    #: the runner's settings per runner-Secret key the Job takes its KIE.AI key from (several
    #: provider accounts); Jobs of the default account use `settings`
    account_settings: dict[str, Settings] = field(default_factory=dict)
    poll: float = 0.02
    attempts: list[Attempt] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    starts: list[float] = field(default_factory=list)  # monotonic, per Job
    finishes: list[float] = field(default_factory=list)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _loop_task: asyncio.Task[None] | None = None

    def _job(self, name: str) -> dict[str, Any] | None:
        try:
            obj = self.cluster.kmock.objects[JOBS_RESOURCE, NS, name]
        except KeyError:
            return None
        if obj.deleted:
            return None
        job = dict(obj.raw)
        return None if (job.get("status") or {}).get("conditions") else job

    def settings_for(self, job: dict[str, Any]) -> Settings:
        """The runner's settings for this Job's provider account (its KIE.AI key's Secret key)."""
        for env in job["spec"]["template"]["spec"]["containers"][0].get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("key")
            if env.get("name") == "VIDGEN_KIE_API_KEY" and ref in self.account_settings:
                return self.account_settings[ref]
        return self.settings

    def _take(self, name: str) -> None:
        if name in self._tasks:
            return
        job = self._job(name)
        if job is not None:
            self._tasks[name] = asyncio.create_task(self._run(name, job))

    async def _loop(self) -> None:
        seen = 0
        last_scan = 0.0
        while True:
            created = self.cluster.kmock.job_creations
            for name in created[seen:]:
                self._take(name)
            seen = len(created)
            if time.monotonic() - last_scan > 0.5:  # a slow sweep, in case one slipped by
                last_scan = time.monotonic()
                for name in self.cluster.jobs():
                    self._take(name)
            await asyncio.sleep(self.poll)

    async def _run(self, name: str, job: dict[str, Any]) -> None:
        request = parse_runner_args(job["spec"]["template"]["spec"]["containers"][0]["args"])
        now = time.monotonic()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.starts.append(now)
        needed = (
            not await asyncio.to_thread(self.storage.exists, video_key(request.name))
            and (await asyncio.to_thread(checkpoint.load, self.storage, request.name)) is None
        )
        record = Attempt(request.name, request.attempt, name, now, needed_task=needed)
        self.attempts.append(record)
        run = asyncio.create_task(run_generation(request, self.settings_for(job), self.storage))
        delay = self.kill(request.name, request.attempt) if self.kill else None
        result: RunnerResult | None
        try:
            if delay is None:
                result = await run
            else:
                try:
                    result = await asyncio.wait_for(run, delay)
                except TimeoutError:
                    result, record.killed = None, True
            record.result = result
            record.ended = time.monotonic()
            with contextlib.suppress(AssertionError):  # the Job was deleted meanwhile
                await self.cluster.finish_job(job, result)
        finally:
            self.active -= 1
            self.finishes.append(time.monotonic())

    async def __aenter__(self) -> RunnerKubelet:
        self._loop_task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        tasks = [t for t in [self._loop_task, *self._tasks.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def by_generation(self) -> dict[str, list[Attempt]]:
        out: dict[str, list[Attempt]] = {}
        for a in self.attempts:
            out.setdefault(a.generation, []).append(a)
        return out


# --- the bot's side of a request ---------------------------------------------------------------


async def seed_request(
    sessions: SessionMaker,
    storage: Storage,
    user_id: int,
    token: str,
    *,
    prompt: str = "",
    free_credits: int = 2,
) -> GenerationSpec:
    """The user (with the free credits), the debit + row + outbox (one transaction) and the
    photo in storage: everything the bot does before the VideoGeneration is created."""
    name = f"vg-{user_id}-{token}"
    spec = GenerationSpec(
        name=name,
        user_id=user_id,
        chat_id=user_id * 10,
        photo=photo_key(name),
        prompt=prompt,
        status_message_id=500 + user_id,
        requested_at=iso(time.time()),
    )
    await asyncio.to_thread(storage.put, spec.photo, CAT, "image/jpeg")
    async with transaction(sessions) as session:
        await ensure_user(session, user_id, free_credits=free_credits)
        await create_request(session, spec, cost=1)
    return spec


# --- invariants --------------------------------------------------------------------------------


async def money_problems(sessions: SessionMaker, delivered: Mapping[str, bool]) -> list[str]:
    """Every user's balance is the sum of their entries; each generation (name → delivered?)
    has exactly one debit, at most one refund, and a refund if and only if it was not delivered.
    Returns the problems found (empty: all good)."""
    problems: list[str] = []
    async with sessions() as session:
        balances = dict((await session.execute(select(User.id, User.balance))).tuples().all())
        sums = dict(
            (
                await session.execute(
                    select(CreditEntry.user_id, func.sum(CreditEntry.delta)).group_by(CreditEntry.user_id)
                )
            )
            .tuples()
            .all()
        )
        entries = (await session.execute(select(CreditEntry.kind, CreditEntry.ref))).tuples().all()
    for user, balance in balances.items():
        if balance != int(sums.get(user) or 0):
            problems.append(f"user {user}: balance {balance} != sum of entries {sums.get(user)}")
    counts = Counter(entries)
    for name, was_delivered in delivered.items():
        debits, refunds = counts[("debit", name)], counts[("refund", name)]
        if debits != 1:
            problems.append(f"{name}: {debits} debits")
        if refunds > 1:
            problems.append(f"{name}: {refunds} refunds")
        if was_delivered and refunds:
            problems.append(f"{name}: delivered and refunded")
        if not was_delivered and not refunds:
            problems.append(f"{name}: not delivered and not refunded")
    return problems


def outcome_problems(cluster: Cluster, names: Iterable[str]) -> list[str]:
    """Every generation ended Delivered or Failed, and is settled (refund and notice handled)."""
    problems = []
    for name in names:
        status = cluster.status(name)
        if status.get("phase") not in ("Delivered", "Failed"):
            problems.append(f"{name}: phase {status.get('phase')}")
        elif not is_settled(status):
            problems.append(f"{name}: {status.get('phase')} but not settled")
    return problems


def task_problems(kie: ProviderKie, kubelet: RunnerKubelet) -> list[str]:
    """A task was created (kept) once by each attempt that needed one (no checkpoint, no stored
    video) and created it, at most once by one killed on the way, never by one that resumed a
    checkpointed task. (Refused creations keep nothing: an attempt may retry them.)"""
    problems = []
    for gen, attempts in kubelet.by_generation().items():
        calls = kie.creations_for(gen)
        for a in attempts:
            end = a.ended if a.ended is not None else float("inf")
            made = sum(1 for at in calls if a.started <= at <= end)
            if not a.needed_task and made:
                problems.append(f"{gen} attempt {a.attempt}: resumed a task but called createTask {made}x")
            elif a.needed_task and not a.killed and made > 1:
                problems.append(f"{gen} attempt {a.attempt}: created {made} tasks (expected 1)")
            elif a.needed_task and not a.killed and made == 0 and a.result is not None and a.result.ok:
                problems.append(f"{gen} attempt {a.attempt}: delivered a video without creating a task")
            elif a.killed and made > 1:
                problems.append(f"{gen} attempt {a.attempt}: killed, called createTask {made}x")
        if len(calls) > len(attempts):
            problems.append(f"{gen}: {len(calls)} createTask calls for {len(attempts)} attempts")
    return problems


def delivered_map(cluster: Cluster, names: Iterable[str]) -> dict[str, bool]:
    return {name: cluster.phase(name) == "Delivered" for name in names}


def all_settled(cluster: Cluster, names: Iterable[str]) -> bool:
    return all(is_settled(cluster.status(n)) for n in names)
