"""Throughput against the provider's limit: N generations through the real operator (kopf on
kmock's Kubernetes API emulator, PostgreSQL, the fake Telegram Bot API), with a simulated kubelet
that runs the real runner in-process for every Job (against the fake KIE.AI) and writes its
result as the pod's termination message. Then the same load through the seed's design — a fixed
pool of 3 workers, each making one video at a time and sending it — and the ratio. Then a 429
storm: how long until task creations are back at the provider's full rate.

The provider (tests/fakes/kie.py, extended in tests/integration/faults/sim.py) enforces KIE.AI's
real limit, 20 task creations per 10 s (a 21st gets code 429 and is dropped), a ceiling on tasks
generating at once, and a generation time scaled down from 4–5 minutes by --scale (default 60:
4–5 s; the runner's polling is scaled the same way). The rate window is NOT scaled: the operator
works against an API server, whose latencies do not shrink.

Run: `.venv/bin/python bench/throughput.py` (about 6 minutes on 2 cores; needs PostgreSQL on
127.0.0.1). Bigger: `--n 300 --max-concurrency 30`; only some parts: `--skip-baseline`,
`--skip-storm`; the operator's own creation window with a safety margin: `--operator-window 12`.
Figures and what they mean: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import machine, median, pct, quiet_logs

quiet_logs("ERROR")  # before the vidgen modules bind their loggers; 429s are counted below

import attrs  # noqa: E402  (after common: it puts the repository on sys.path)
import kmock as kmocklib  # noqa: E402

from tests.fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from tests.integration.faults.sim import (  # noqa: E402
    ProviderKie,
    RunnerKubelet,
    runner_settings,
    seed_request,
)
from tests.integration.operator.conftest import (  # noqa: E402
    JOBS_RESOURCE,
    NS,
    BoundedEmulator,
    Cluster,
    declare_resources,
)
from vidgen.core.db.engine import SessionMaker, make_engine, make_sessionmaker  # noqa: E402
from vidgen.core.models import GenerationSpec  # noqa: E402
from vidgen.core.settings import Settings  # noqa: E402
from vidgen.storage import FileStorage  # noqa: E402

SETTLED = ("Delivered", "Failed")


@attrs.define(kw_only=True)
class TimedEmulator(BoundedEmulator):  # type: ignore[misc,unused-ignore]
    """Also notes when each Job was first created (monotonic seconds)."""

    job_created_at: dict[str, float] = attrs.field(factory=dict)

    async def _handle(self, request: Any) -> Any:
        if request.method == "POST" and request.resource == JOBS_RESOURCE and isinstance(request.data, dict):
            self.job_created_at.setdefault(request.data["metadata"]["name"], time.monotonic())
        return await super()._handle(request)


# --- the simulated cluster ---------------------------------------------------------------------


@dataclass
class Sim:
    args: argparse.Namespace
    kmock: TimedEmulator
    cluster: Cluster
    tg: FakeTelegram
    kie: ProviderKie
    sessions: SessionMaker
    storage: FileStorage
    settings: Settings
    runner: Settings
    vg_created_at: dict[str, float] = field(default_factory=dict)

    async def seed(self, n: int, first_user: int) -> list[GenerationSpec]:
        return [
            await seed_request(self.sessions, self.storage, first_user + i, f"t{i}", prompt="waves hello")
            for i in range(n)
        ]

    async def submit(self, specs: Sequence[GenerationSpec]) -> None:
        for spec in specs:
            self.vg_created_at[spec.name] = time.monotonic()
            await self.cluster.create_vg(spec)

    @asynccontextmanager
    async def operator(self) -> AsyncIterator[Any]:
        from vidgen.operator.handlers import OperatorRuntime

        runtime = OperatorRuntime(
            self.settings,
            standalone=True,
            sessions=self.sessions,
            metrics_port=0,
            liveness=False,
            post_events=False,
        )
        task = asyncio.create_task(runtime.run())
        while not runtime.started.is_set():
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        try:
            yield runtime
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 15)


def provider_kwargs(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    low, high = 240 / args.scale, 300 / args.scale
    return {
        "latency": (low, high),
        "ceiling": args.provider_concurrency,
        "rate_limit": args.rate_limit,
        "rate_window": args.rate_window,
        "seed": seed,
    }


def runner_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The runner's production timings (5 s first poll, ×1.5 up to 30 s, 900 s deadline), scaled."""
    return {
        "kie_poll_interval_seconds": 5.0 / args.scale,
        "kie_poll_max_interval_seconds": 30.0 / args.scale,
        "kie_retry_wait_seconds": 1.0 / args.scale,
        "kie_deadline_seconds": 900.0 / args.scale,
    }


@asynccontextmanager
async def simulation(
    args: argparse.Namespace, db_url: str, seed: int, **overrides: Any
) -> AsyncIterator[Sim]:
    with tempfile.TemporaryDirectory(prefix="vidgen-bench-") as tmp:
        storage_dir = Path(tmp) / "data"
        storage_dir.mkdir()
        async with TimedEmulator() as km, kmocklib.Server(km):
            declare_resources(km)
            async with FakeTelegram() as tg, ProviderKie(**provider_kwargs(args, seed)) as kie:
                engine = make_engine(db_url)
                values: dict[str, Any] = {
                    "database_url": db_url,
                    "storage_url": f"file://{storage_dir}",
                    "telegram_token": TOKEN,
                    "telegram_api_url": tg.url,
                    "kube_api_url": str(km.url),
                    "namespace": NS,
                    "max_concurrency": args.max_concurrency,
                    "provider_rate_limit": args.operator_rate_limit,
                    "provider_rate_window_seconds": args.operator_window,
                    "metrics_port": 0,
                    **overrides,
                }
                settings = Settings(_env_file=None, **values)  # type: ignore[call-arg,unused-ignore]
                try:
                    yield Sim(
                        args,
                        km,
                        Cluster(km),
                        tg,
                        kie,
                        make_sessionmaker(engine),
                        FileStorage(storage_dir),
                        settings,
                        runner_settings(settings, kie, **runner_overrides(args)),
                    )
                finally:
                    await engine.dispose()


async def sample_limit(runtime: Any, into: list[tuple[float, int]]) -> None:
    """The reconciler's adaptive limit, every 50 ms, while it runs (changes only)."""
    while True:
        if runtime.reconciler is not None:
            value = runtime.reconciler.limit.current
            if not into or into[-1][1] != value:
                into.append((time.monotonic(), value))
        await asyncio.sleep(0.05)


async def wait_settled(sim: Sim, names: Sequence[str], timeout: float) -> dict[str, float]:
    """When each generation reached Delivered/Failed (monotonic); stops at `timeout`."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(names) and time.monotonic() < deadline:
        for name in names:
            if name not in done and sim.cluster.phase(name) in SETTLED:
                done[name] = time.monotonic()
        await asyncio.sleep(0.1)
    return done


# --- figures -----------------------------------------------------------------------------------


def windowed_utilisation(
    accepted: Sequence[float], until: float, limit: int, window: float
) -> tuple[float, int, int]:
    """Creations in the whole provider windows from the first creation up to `until` (while work
    was queued), as a share of what the limit allows: (utilisation, creations, windows)."""
    if not accepted:
        return 0.0, 0, 0
    start = min(accepted)
    windows = int((until - start) // window)
    if windows <= 0:
        return float("nan"), 0, 0
    count = sum(1 for t in accepted if start <= t < start + windows * window)
    return count / (windows * limit), count, windows


def per_window(accepted: Sequence[float], window: float) -> list[int]:
    if not accepted:
        return []
    start = min(accepted)
    counts: dict[int, int] = {}
    for t in accepted:
        counts[int((t - start) // window)] = counts.get(int((t - start) // window), 0) + 1
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def limit_at(limits: Sequence[tuple[float, int]], at: float, default: int) -> int:
    value = default
    for t, v in limits:
        if t > at:
            break
        value = v
    return value


def admission_latencies(
    jobs: Sequence[tuple[float, float]],
    finished: Sequence[float],
    limits: Sequence[tuple[float, int]],
    cap: int,
    creations: int,
    window: float,
) -> list[float]:
    """`jobs`: (created, ready) per Job — ready is when its VideoGeneration was created; `limits`:
    the operator's adaptive limit over time. For the k-th Job creation: how long after it could
    have been created it was — its request there, a slot under the limit free (fewer than the
    limit of the k earlier Jobs still unfinished), and the (k−creations)-th creation a window
    old (the operator's own creation window). This is the operator's reaction time: watch
    events, the Pending → Queued step, admission passes and their timers, the Job's creation."""
    ordered = sorted(jobs)
    created = [c for c, _r in ordered]
    finished = sorted(finished)
    out = []
    for k, (at, ready) in enumerate(ordered):
        changes = sorted([(f, 0) for f in finished if f <= at] + [(t, 1) for t, _v in limits if t <= at])
        done = 0
        free_since: float | None = None
        if k < limit_at(limits, float("-inf"), cap):
            free_since = float("-inf")
        for t, _kind in changes:
            done = sum(1 for f in finished if f <= t)
            free = k - done < limit_at(limits, t, cap)
            if free and free_since is None:
                free_since = t
            elif not free:
                free_since = None
        if free_since is None:  # the limit shrank under it meanwhile: not an admission to time
            continue
        eligible = max(ready, free_since)
        if k >= creations:
            eligible = max(eligible, created[k - creations] + window)
        out.append(max(0.0, at - eligible))
    return out


def over_cap(created: Sequence[float], finished: Sequence[float], cap: int) -> tuple[int, int]:
    """(Job creations that made more than `cap` Jobs active, the most Jobs active at once)."""
    events = sorted([(t, 1) for t in created] + [(t, -1) for t in finished], key=lambda e: (e[0], e[1]))
    active = peak = over = 0
    for _t, delta in events:
        active += delta
        peak = max(peak, active)
        if delta > 0 and active > cap:
            over += 1
    return over, peak


@dataclass
class Run:
    label: str
    n: int
    delivered: int
    failed: int
    seconds: float
    refused: int
    utilisation: float
    window_counts: list[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


# --- the operator --------------------------------------------------------------------------------


async def run_operator(args: argparse.Namespace, db_url: str) -> Run:
    async with simulation(args, db_url, seed=1) as sim:
        specs = await sim.seed(args.n, 100_000)
        names = [s.name for s in specs]
        limits: list[tuple[float, int]] = []
        async with sim.operator() as runtime, RunnerKubelet(sim.cluster, sim.runner, sim.storage) as kubelet:
            sampler = asyncio.create_task(sample_limit(runtime, limits))
            t0 = time.monotonic()
            await sim.submit(specs)
            done = await wait_settled(
                sim, names, timeout=args.n / (args.rate_limit / args.rate_window) * 4 + 120
            )
            sampler.cancel()
            limit_now = runtime.reconciler.limit.current if runtime.reconciler else None
        kie = sim.kie
        phases = [sim.cluster.phase(n) for n in names]
        created = list(sim.kmock.job_created_at.values())
        queue_empty = max(created) if created else t0
        util, count, windows = windowed_utilisation(
            kie.accepted, queue_empty, args.rate_limit, args.rate_window
        )
        # Retries wait for their notBefore on purpose: only first attempts are measured.
        jobs = [
            (at, sim.vg_created_at[job.rsplit("-a", 1)[0]] if job.endswith("-a1") else at)
            for job, at in sim.kmock.job_created_at.items()
        ]
        latencies = admission_latencies(
            jobs,
            kubelet.finishes,
            limits,
            args.max_concurrency,
            args.operator_rate_limit,
            args.operator_window,
        )
        over, peak = over_cap(created, kubelet.finishes, args.max_concurrency)
        return Run(
            "operator",
            args.n,
            phases.count("Delivered"),
            phases.count("Failed"),
            (max(done.values()) - t0) if done else float("nan"),
            len(kie.refused),
            util,
            per_window(kie.accepted, args.rate_window),
            {
                "jobs": len(created),
                "settled": len(done),
                "windowed": f"{count} creations in {windows} whole windows of {args.rate_window:g} s",
                "latency_p50": median(latencies),
                "latency_p99": pct(latencies, 99),
                "latency_max": max(latencies) if latencies else float("nan"),
                "over_cap": over,
                "peak_jobs": peak,
                "peak_provider_tasks": kie.peak_generating,
                "limit_end": limit_now,
                "limit_min": min((v for _t, v in limits), default=None),
                "queue_seconds": queue_empty - t0,
            },
        )


# --- the seed's design: 3 workers ---------------------------------------------------------------


async def run_baseline(args: argparse.Namespace, db_url: str) -> Run:
    from vidgen.core.ports import Sent
    from vidgen.operator.delivery import TelegramDelivery
    from vidgen.runner.pipeline import RunRequest, run_generation

    async with simulation(args, db_url, seed=2) as sim:
        specs = await sim.seed(args.n, 200_000)
        queue: asyncio.Queue[GenerationSpec] = asyncio.Queue()
        for spec in specs:
            queue.put_nowait(spec)
        bot = sim.tg.bot()
        delivery = TelegramDelivery(bot, sim.storage)
        outcome = {"delivered": 0, "failed": 0}

        async def worker() -> None:
            while True:
                try:
                    spec = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                request = RunRequest(spec.name, spec.photo, spec.prompt)
                result = await run_generation(request, sim.runner, sim.storage)
                if result.ok and isinstance(await delivery.send_video(spec.chat_id, str(result.video)), Sent):
                    outcome["delivered"] += 1
                else:
                    outcome["failed"] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(args.baseline_workers)))
        seconds = time.monotonic() - t0
        await bot.session.close()
        kie = sim.kie
        last_start = max(kie.accepted) if kie.accepted else t0
        util, count, windows = windowed_utilisation(
            kie.accepted, last_start, args.rate_limit, args.rate_window
        )
        return Run(
            f"{args.baseline_workers} workers",
            args.n,
            outcome["delivered"],
            outcome["failed"],
            seconds,
            len(kie.refused),
            util,
            per_window(kie.accepted, args.rate_window),
            {"windowed": f"{count} creations in {windows} whole windows of {args.rate_window:g} s"},
        )


# --- a 429 storm ------------------------------------------------------------------------------------


@dataclass
class Storm:
    refused: int
    refused_before: int
    refused_after: int
    storm_start: float
    storm_end: float
    watch_end: float
    recovery: float | None
    limits: list[tuple[float, int]]
    before: int
    after: int
    window_counts: list[int]


def recovery_time(
    accepted: Sequence[float], since: float, until: float, limit: int, window: float
) -> float | None:
    """Seconds from `since` to the start of the first whole window (beginning at a creation, and
    ending by `until`) that held at least 95% of the limit; None if there was none."""
    times = sorted(t for t in accepted if t >= since)
    need = max(1, int(0.95 * limit + 0.999))
    for i, start in enumerate(times):
        if start + window > until:
            break
        if sum(1 for t in times[i:] if t < start + window) >= need:
            return start - since
    return None


async def run_storm(args: argparse.Namespace, db_url: str) -> Storm:
    async with simulation(args, db_url, seed=3, clean_window_seconds=args.clean_window) as sim:
        specs = await sim.seed(args.storm_n, 300_000)
        limits: list[tuple[float, int]] = []
        async with sim.operator() as runtime, RunnerKubelet(sim.cluster, sim.runner, sim.storage):
            sampler = asyncio.create_task(sample_limit(runtime, limits))
            await sim.submit(specs)
            kie = sim.kie
            for _ in range(1200):  # the first creation, within a minute
                if kie.accepted:
                    break
                await asyncio.sleep(0.05)
            first = kie.accepted[0]
            await asyncio.sleep(max(0.0, first + args.storm_after - time.monotonic()))
            storm_start = time.monotonic()
            kie.storm(args.storm_seconds)
            storm_end = storm_start + args.storm_seconds
            watch_end = storm_end + args.storm_watch
            await asyncio.sleep(watch_end - time.monotonic())
            sampler.cancel()
        accepted = [t for t in kie.accepted if t < watch_end]
        return Storm(
            refused=sum(1 for t in kie.refused if t < watch_end),
            refused_before=sum(1 for t in kie.refused if t < storm_start),
            refused_after=sum(1 for t in kie.refused if storm_end <= t < watch_end),
            storm_start=storm_start,
            storm_end=storm_end,
            watch_end=watch_end,
            recovery=recovery_time(accepted, storm_end, watch_end, args.rate_limit, args.rate_window),
            limits=[(t - storm_start, v) for t, v in limits],
            before=sum(1 for t in accepted if storm_start - args.rate_window <= t < storm_start),
            after=sum(1 for t in accepted if t >= storm_end),
            window_counts=per_window(accepted, args.rate_window),
        )


# --- output ------------------------------------------------------------------------------------------


def show_run(run: Run, args: argparse.Namespace) -> None:
    print(
        f"\n[{run.label}] {run.n} generations: {run.delivered} delivered, {run.failed} failed in {run.seconds:.1f} s"
    )
    print(f"  completed/s           {run.per_second:.3f}")
    print(
        f"  provider utilisation  {run.utilisation:.1%} of {args.rate_limit}/{args.rate_window:g} s while work was queued"
        f" ({run.extra.get('windowed')})"
    )
    print(f"  creations per window  {run.window_counts}")
    print(f"  429s received         {run.refused}")
    if "latency_p50" in run.extra:
        e = run.extra
        print(
            f"  admission latency     p50 {e['latency_p50'] * 1000:.0f} ms, p99 {e['latency_p99'] * 1000:.0f} ms,"
            f" max {e['latency_max'] * 1000:.0f} ms ({e['jobs']} Jobs)"
        )
        print(
            f"  Jobs over the cap     {e['over_cap']} (cap {args.max_concurrency}; most at once {e['peak_jobs']};"
            f" provider tasks at once {e['peak_provider_tasks']}, ceiling {args.provider_concurrency})"
        )
        print(
            f"  queue drained after   {e['queue_seconds']:.1f} s; adaptive limit: lowest {e['limit_min']},"
            f" at the end {e['limit_end']}"
        )


def show_storm(storm: Storm, args: argparse.Namespace) -> None:
    w = args.rate_window
    print(
        f"\n[429 storm] every creation refused for {args.storm_seconds:g} s, {args.storm_after:g} s after the first;"
        f" watched {args.storm_watch:g} s after (clean window {args.clean_window:g} s,"
        f" operator window {args.operator_rate_limit} / {args.operator_window:g} s)"
    )
    print(
        f"  429s received         {storm.refused} ({storm.refused_before} before the storm,"
        f" {storm.refused_after} after it)"
    )
    print(
        f"  creations             {storm.before} in the window before the storm, {storm.after} in the {args.storm_watch:g} s after"
    )
    print(f"  creations per window  {storm.window_counts}")
    trajectory = [f"{at:+.1f}s:{limit}" for at, limit in storm.limits]
    print(f"  adaptive limit        {' '.join(trajectory)} (seconds from the storm's start)")
    if storm.recovery is None:
        print(
            f"  back to full rate     NOT within {args.storm_watch:g} s ({args.storm_watch / w:.1f} windows) after the storm"
        )
    else:
        verdict = "within" if storm.recovery <= 2 * w else "NOT within"
        print(
            f"  back to full rate     {storm.recovery:.1f} s after the storm ({storm.recovery / w:.1f} windows; {verdict} two)"
        )


async def main_async(args: argparse.Namespace) -> None:
    from common import fresh_database

    print(machine())
    print(
        f"provider: {args.rate_limit} creations / {args.rate_window:g} s, at most {args.provider_concurrency} generating,"
        f" generation {240 / args.scale:.1f}–{300 / args.scale:.1f} s (4–5 min ÷ {args.scale:g});"
        f" operator cap {args.max_concurrency}, its creation window {args.operator_rate_limit} / {args.operator_window:g} s"
    )
    with fresh_database() as url:
        op = await run_operator(args, url)
    show_run(op, args)
    if not args.skip_baseline:
        with fresh_database() as url:
            base = await run_baseline(args, url)
        show_run(base, args)
        ratio = op.per_second / base.per_second if base.per_second else float("inf")
        print(f"\n[ratio] operator ÷ {base.label}: {ratio:.2f}× completed/s")
    if not args.skip_storm:
        with fresh_database() as url:
            storm = await run_storm(args, url)
        show_storm(storm, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=80, help="generations in the throughput runs (default 80)")
    parser.add_argument(
        "--scale", type=float, default=60.0, help="divide the 4–5 min generation time by this"
    )
    parser.add_argument("--max-concurrency", type=int, default=20, help="the operator's cap (default 20)")
    parser.add_argument("--rate-limit", type=int, default=20, help="provider creations per window (20)")
    parser.add_argument("--rate-window", type=float, default=10.0, help="provider window, seconds (10)")
    parser.add_argument(
        "--provider-concurrency", type=int, default=100, help="tasks generating at once (100)"
    )
    parser.add_argument(
        "--operator-rate-limit", type=int, help="the operator's provider_rate_limit (default: --rate-limit)"
    )
    parser.add_argument(
        "--operator-window",
        type=float,
        help="the operator's provider_rate_window_seconds (default: --rate-window; more = a safety margin)",
    )
    parser.add_argument("--baseline-workers", type=int, default=3)
    parser.add_argument("--storm-n", type=int, default=120, help="generations queued for the storm scenario")
    parser.add_argument(
        "--storm-after", type=float, default=15.0, help="storm starts this long after the first creation"
    )
    parser.add_argument(
        "--storm-seconds", type=float, default=10.0, help="how long every creation gets a 429"
    )
    parser.add_argument("--storm-watch", type=float, default=40.0, help="how long to watch the recovery")
    parser.add_argument(
        "--clean-window", type=float, default=60.0, help="operator's clean_window_seconds (60)"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-storm", action="store_true")
    args = parser.parse_args()
    if args.operator_rate_limit is None:
        args.operator_rate_limit = args.rate_limit
    if args.operator_window is None:
        args.operator_window = args.rate_window
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
