"""Throughput at the provider's limits: generations through the real operator (kopf on kmock's
Kubernetes API emulator, PostgreSQL, the fake Telegram Bot API), with a simulated kubelet that
runs the real runner in-process for every Job (against the fake KIE.AI, one per provider account)
and writes its result as the pod's termination message. Scenarios:

- rate-bound: generation time scaled (4–5 min ÷ --scale) so the creation rate (20 / 10 s) binds;
  utilisation of that rate while work is queued, vs the seed's fixed pool of 3 workers;
- concurrency-bound: the provider's ceiling set low (10 tasks at once) and generations long
  enough that the ceiling binds: delivered/s ÷ (ceiling ÷ mean generation time);
- storm: every creation refused for a while, then how many provider windows until creations
  are back at ≥ 90% of the full rate; and that nothing was refunded that could have waited;
- accounts: the rate-bound scenario on two provider accounts vs one.

The provider's rate window is NOT scaled (10 s): the operator works against an API server whose
latencies do not shrink. Needs PostgreSQL on 127.0.0.1. `--quick` runs a reduced version of every
scenario (< 8 minutes on 2 cores); `--json` prints one JSON object as the last line. Figures and
what they mean: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import machine, quiet_logs

quiet_logs("ERROR")  # before the vidgen modules bind their loggers; 429s are counted below

import attrs  # noqa: E402  (after common: it puts the repository on sys.path)
import kmock as kmocklib  # noqa: E402

from tests.fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from tests.integration.faults.sim import ProviderKie, RunnerKubelet, runner_settings, seed_request  # noqa: E402
from tests.integration.operator.conftest import JOBS_RESOURCE, NS, BoundedEmulator, Cluster, declare_resources  # noqa: E402
from vidgen.core.db.engine import make_engine, make_sessionmaker  # noqa: E402
from vidgen.core.models import GenerationSpec  # noqa: E402
from vidgen.core.settings import Settings  # noqa: E402
from vidgen.operator.job_manifest import account_key_secret_key  # noqa: E402
from vidgen.storage import FileStorage  # noqa: E402

SETTLED = ("Delivered", "Failed")
RATE, WINDOW = 20, 10.0  # KIE.AI: 20 creations per 10 s per account


@attrs.define(kw_only=True)
class TimedEmulator(BoundedEmulator):  # type: ignore[misc,unused-ignore]
    """Also notes when each Job was first created (monotonic seconds)."""

    job_created_at: dict[str, float] = attrs.field(factory=dict)

    async def _handle(self, request: Any) -> Any:
        if request.method == "POST" and request.resource == JOBS_RESOURCE and isinstance(request.data, dict):
            self.job_created_at.setdefault(request.data["metadata"]["name"], time.monotonic())
        return await super()._handle(request)


@dataclass
class Scenario:
    label: str
    n: int
    scale: float = 60.0
    accounts: int = 1
    ceiling: int = 100
    storm_seconds: float = 0.0  # every creation refused for this long …
    storm_after: float = 0.0  # … starting this long after the first creation
    watch_after_storm: float = 40.0


@dataclass
class Result:
    scenario: Scenario
    delivered: int
    failed: int
    failed_by_429: int
    seconds: float
    accepted: list[float]
    refused: int
    absorbed: int
    over_cap: int
    peak_jobs: int
    peak_tasks: int
    queue_empty: float
    first_creation: float
    generation_seconds: list[float]
    pod_seconds: float
    status_peak: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


# --- figures -----------------------------------------------------------------------------------


def per_window(accepted: Sequence[float], start: float, window: float = WINDOW) -> list[int]:
    counts: dict[int, int] = {}
    for t in accepted:
        if t >= start:
            counts[int((t - start) // window)] = counts.get(int((t - start) // window), 0) + 1
    return [counts.get(i, 0) for i in range(max(counts) + 1)] if counts else []


def utilisation(
    accepted: Sequence[float], start: float, until: float, limit: float
) -> tuple[float, int, int]:
    """Creations in the whole windows from `start` up to `until` (while work was queued) as a
    share of what `limit` per window allows: (utilisation, creations, windows)."""
    windows = int((until - start) // WINDOW)
    if windows <= 0:
        return float("nan"), 0, 0
    count = sum(1 for t in accepted if start <= t < start + windows * WINDOW)
    return count / (windows * limit), count, windows


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


def peak_rate(times: Sequence[float], span: float = 1.0) -> float:
    """The most events in any `span` seconds (a sliding window over the events), per second."""
    ordered = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - span:
            j += 1
        best = max(best, i - j + 1)
    return best / span


def recovery_windows(accepted: Sequence[float], since: float, limit: float) -> float | None:
    """Provider windows from `since` (the storm's end) to the end of the first whole window that
    held ≥ 90% of the full rate; None if none did."""
    times = sorted(t for t in accepted if t >= since)
    need = max(1, int(0.9 * limit + 0.999))
    for i, start in enumerate(times):
        if sum(1 for t in times[i:] if t < start + WINDOW) >= need:
            return (start + WINDOW - since) / WINDOW
    return None


# --- the simulated cluster ---------------------------------------------------------------------


def runner_timings(scale: float) -> dict[str, Any]:
    """The runner's production timings (5 s first poll, ×1.5 up to 30 s, 900 s deadline), scaled;
    the patience for a refused creation is one provider window (not scaled)."""
    return {
        "kie_poll_interval_seconds": 5.0 / scale,
        "kie_poll_max_interval_seconds": 30.0 / scale,
        "kie_retry_wait_seconds": 1.0 / scale,
        "kie_deadline_seconds": 900.0 / scale,
    }


@asynccontextmanager
async def cluster(sc: Scenario, db_url: str, seed: int) -> AsyncIterator[dict[str, Any]]:
    """kmock + fake Telegram + one fake KIE.AI per account + the operator's and runner's settings."""
    with tempfile.TemporaryDirectory(prefix="vidgen-bench-") as tmp:
        storage_dir = Path(tmp) / "data"
        storage_dir.mkdir()
        async with AsyncExitStack() as stack:
            km = TimedEmulator()
            await stack.enter_async_context(km)
            await stack.enter_async_context(kmocklib.Server(km))
            declare_resources(km)
            tg = await stack.enter_async_context(FakeTelegram())
            latency = (240 / sc.scale, 300 / sc.scale)
            names = ["default"] + [f"acct{i}" for i in range(1, sc.accounts)]
            kies = {}
            for i, name in enumerate(names):
                kie = ProviderKie(
                    latency=latency, ceiling=sc.ceiling, rate_limit=RATE, rate_window=WINDOW, seed=seed + i
                )
                kies[name] = await stack.enter_async_context(kie)
            engine = make_engine(db_url)
            stack.push_async_callback(engine.dispose)
            settings = Settings(  # type: ignore[call-arg,unused-ignore]
                _env_file=None,
                database_url=db_url,
                storage_url=f"file://{storage_dir}",
                telegram_token=TOKEN,
                telegram_api_url=tg.url,
                kube_api_url=str(km.url),
                namespace=NS,
                metrics_port=0,
                provider_accounts=names,
                provider_max_running=sc.ceiling,
                resync_interval_seconds=5.0,
            )
            runners = {
                account_key_secret_key(name): runner_settings(settings, kie, **runner_timings(sc.scale))
                for name, kie in kies.items()
            }
            yield {
                "km": km,
                "cluster": Cluster(km),
                "tg": tg,
                "kies": kies,
                "sessions": make_sessionmaker(engine),
                "storage": FileStorage(storage_dir),
                "settings": settings,
                "runners": runners,
            }


@asynccontextmanager
async def operator(settings: Settings, sessions: Any) -> AsyncIterator[Any]:
    from vidgen.operator.handlers import OperatorRuntime

    runtime = OperatorRuntime(
        settings, standalone=True, sessions=sessions, metrics_port=0, liveness=False, post_events=False
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


async def seed(sim: dict[str, Any], n: int, first_user: int) -> list[GenerationSpec]:
    return [
        await seed_request(sim["sessions"], sim["storage"], first_user + i, f"t{i}", prompt="waves hello")
        for i in range(n)
    ]


async def run_operator(sc: Scenario, db_url: str, seed_no: int = 1) -> Result:
    async with cluster(sc, db_url, seed_no) as sim:
        specs = await seed(sim, sc.n, 100_000 * seed_no)
        names = [s.name for s in specs]
        kies: dict[str, ProviderKie] = sim["kies"]
        default_runner = sim["runners"]["VIDGEN_KIE_API_KEY"]
        async with (
            operator(sim["settings"], sim["sessions"]) as runtime,
            RunnerKubelet(
                sim["cluster"], default_runner, sim["storage"], account_settings=sim["runners"]
            ) as kubelet,
        ):
            t0 = time.monotonic()
            for spec in specs:
                await sim["cluster"].create_vg(spec)
            first = await _first_creation(kies)
            storm_end = None
            if sc.storm_seconds:
                await asyncio.sleep(max(0.0, first + sc.storm_after - time.monotonic()))
                for kie in kies.values():
                    kie.storm(sc.storm_seconds)
                storm_end = time.monotonic() + sc.storm_seconds
            deadline = t0 + sc.n / (RATE / WINDOW) * 4 + 180
            if storm_end is not None:
                deadline = min(deadline, storm_end + sc.watch_after_storm)
            done = await _settled(sim["cluster"], names, deadline)
            absorbed = (
                int(runtime.reconciler.metrics.rate_limit_absorbed._value.get()) if runtime.reconciler else 0
            )
        accepted = sorted(t for kie in kies.values() for t in kie.accepted)
        created = sorted(sim["km"].job_created_at.values())
        first_attempts = [t for job, t in sim["km"].job_created_at.items() if job.endswith("-a1")]
        queue_empty = max(first_attempts) if len(first_attempts) == sc.n else time.monotonic()
        cap = sim["settings"].running_cap
        over, peak = over_cap(created, kubelet.finishes, cap)
        phases = {n: sim["cluster"].phase(n) for n in names}
        failed_429 = sum(
            1
            for n, p in phases.items()
            if p == "Failed" and (sim["cluster"].status(n).get("error") or {}).get("class") == "RATE_LIMIT"
        )
        durations = [d for kie in kies.values() for d in kie.durations.values()]
        pod_seconds = sum((a.ended or time.monotonic()) - a.started for a in kubelet.attempts)
        polls = [r.at for kie in kies.values() for r in kie.requests if r.endpoint == "recordInfo"]
        result = Result(
            sc,
            delivered=sum(p == "Delivered" for p in phases.values()),
            failed=sum(p == "Failed" for p in phases.values()),
            failed_by_429=failed_429,
            seconds=(max(done.values()) - t0) if done else float("nan"),
            accepted=accepted,
            refused=sum(len(k.refused) for k in kies.values()),
            absorbed=absorbed,
            over_cap=over,
            peak_jobs=peak,
            peak_tasks=max(k.peak_generating for k in kies.values()),
            queue_empty=queue_empty,
            first_creation=first,
            generation_seconds=durations,
            pod_seconds=pod_seconds,
            status_peak=peak_rate(polls),
        )
        if storm_end is not None:
            result.extra["storm_end"] = storm_end
            result.extra["recovery_windows"] = recovery_windows(accepted, storm_end, RATE * sc.accounts)
        return result


async def _first_creation(kies: dict[str, ProviderKie]) -> float:
    for _ in range(2400):
        times = [t for kie in kies.values() for t in kie.accepted]
        if times:
            return min(times)
        await asyncio.sleep(0.05)
    raise SystemExit("no task was created within two minutes")


async def _settled(cluster_: Cluster, names: Sequence[str], deadline: float) -> dict[str, float]:
    done: dict[str, float] = {}
    while len(done) < len(names) and time.monotonic() < deadline:
        for name in names:
            if name not in done and cluster_.phase(name) in SETTLED:
                done[name] = time.monotonic()
        await asyncio.sleep(0.1)
    return done


# --- the seed's design: 3 workers ---------------------------------------------------------------


async def run_baseline(sc: Scenario, db_url: str, workers: int = 3) -> Result:
    from vidgen.core.ports import Sent
    from vidgen.operator.delivery import TelegramDelivery
    from vidgen.runner.pipeline import RunRequest, run_generation

    async with cluster(sc, db_url, 7) as sim:
        specs = await seed(sim, sc.n, 900_000)
        queue: asyncio.Queue[GenerationSpec] = asyncio.Queue()
        for spec in specs:
            queue.put_nowait(spec)
        bot = sim["tg"].bot()
        delivery = TelegramDelivery(bot, sim["storage"])
        runner = sim["runners"]["VIDGEN_KIE_API_KEY"]
        outcome = {"delivered": 0, "failed": 0}

        async def worker() -> None:
            while True:
                try:
                    spec = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                result = await run_generation(
                    RunRequest(spec.name, spec.photo, spec.prompt), runner, sim["storage"]
                )
                sent = result.ok and isinstance(
                    await delivery.send_video(spec.chat_id, str(result.video)), Sent
                )
                outcome["delivered" if sent else "failed"] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        seconds = time.monotonic() - t0
        await bot.session.close()
        kie = sim["kies"]["default"]
        return Result(
            sc,
            delivered=outcome["delivered"],
            failed=outcome["failed"],
            failed_by_429=0,
            seconds=seconds,
            accepted=sorted(kie.accepted),
            refused=len(kie.refused),
            absorbed=0,
            over_cap=0,
            peak_jobs=workers,
            peak_tasks=kie.peak_generating,
            queue_empty=max(kie.accepted) if kie.accepted else t0,
            first_creation=min(kie.accepted) if kie.accepted else t0,
            generation_seconds=list(kie.durations.values()),
            pod_seconds=seconds * workers,
            status_peak=peak_rate([r.at for r in kie.requests if r.endpoint == "recordInfo"]),
        )


# --- output ------------------------------------------------------------------------------------


def show(r: Result, label: str) -> dict[str, Any]:
    sc = r.scenario
    limit = RATE * sc.accounts
    util, count, windows = utilisation(r.accepted, r.first_creation, r.queue_empty, limit)
    gen_mean = statistics.mean(r.generation_seconds) if r.generation_seconds else float("nan")
    print(
        f"\n[{label}] {sc.n} generations, {sc.accounts} account(s), ceiling {sc.ceiling}, generation ÷{sc.scale:g}"
    )
    print(
        f"  delivered / failed    {r.delivered} / {r.failed} (failed by a 429: {r.failed_by_429}) in {r.seconds:.1f} s"
    )
    print(f"  completed/s           {r.per_second:.3f}")
    print(
        f"  provider utilisation  {util:.1%} of {limit} / {WINDOW:g} s while work was queued ({count} in {windows} windows)"
    )
    print(f"  creations per window  {per_window(r.accepted, r.first_creation)}")
    print(f"  429s                  {r.refused} refused, {r.absorbed} absorbed within their attempt")
    print(
        f"  Jobs at once          most {r.peak_jobs}, over the cap {r.over_cap}; provider tasks at once {r.peak_tasks}"
    )
    print(
        f"  pod-seconds / video   {r.pod_seconds / max(1, r.delivered):.2f} (mean generation {gen_mean:.2f} s)"
    )
    print(f"  status requests/s     peak {r.status_peak:.0f}")
    return {"utilisation": util, "gen_mean": gen_mean}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from common import fresh_database

    q = args.quick
    print(machine())
    print(f"provider: {RATE} creations / {WINDOW:g} s per account; generation 4–5 min ÷ scale")
    out: dict[str, Any] = {}

    rate = Scenario("rate-bound", n=60 if q else 120, scale=60)
    with fresh_database() as url:
        op = await run_operator(rate, url)
    figures = show(op, "rate-bound, operator")
    base_sc = Scenario("baseline", n=18 if q else 60, scale=60)
    with fresh_database() as url:
        base = await run_baseline(base_sc, url)
    show(base, "rate-bound, the seed's 3 workers")
    ratio = op.per_second / base.per_second if base.per_second else float("inf")
    print(f"  operator ÷ 3 workers  {ratio:.2f}× completed/s")
    out["rate_bound"] = {
        "utilisation": round(figures["utilisation"], 3),
        "ratio_vs_3_workers": round(ratio, 2),
        "over_cap": op.over_cap,
        "failed_by_429": op.failed_by_429,
        "completed_per_second": round(op.per_second, 3),
    }
    out["cost"] = {
        "pod_seconds_per_video": round(op.pod_seconds / max(1, op.delivered), 2),
        "generation_seconds_mean": round(figures["gen_mean"], 2),
        "status_requests_per_second_peak": op.status_peak,
        "tasks_in_flight_peak": op.peak_tasks,
    }

    conc = Scenario("concurrency-bound", n=30 if q else 60, scale=30, ceiling=10)
    with fresh_database() as url:
        cr = await run_operator(conc, url, seed_no=2)
    cf = show(cr, "concurrency-bound")
    bound = conc.ceiling / cf["gen_mean"]
    # delivered per second while the ceiling held the queue: from the first creation to the last
    # first attempt's creation plus one generation (the last ones' tail is not ceiling-bound)
    span = (cr.queue_empty - cr.first_creation) or float("nan")
    started = sum(1 for t in cr.accepted if t <= cr.queue_empty)
    conc_util = (started - conc.ceiling) / span / bound if span == span else float("nan")
    print(
        f"  ceiling ÷ generation  {bound:.3f}/s; starts while queued {started} in {span:.1f} s → {conc_util:.1%}"
    )
    out["concurrency_bound"] = {
        "utilisation": round(conc_util, 3),
        "completed_per_second": round(cr.per_second, 3),
    }

    storm = Scenario(
        "storm", n=100 if q else 150, scale=60, storm_seconds=10.0, storm_after=12.0, watch_after_storm=30.0
    )
    with fresh_database() as url:
        st = await run_operator(storm, url, seed_no=3)
    show(st, "storm: every creation refused for 10 s")
    rec = st.extra.get("recovery_windows")
    after = per_window(st.accepted, st.extra["storm_end"])
    print(f"  after the storm       creations per window {after}; back to ≥ 90% after {rec} windows")
    print(f"  refunded by a 429     {st.failed_by_429}")
    out["storm"] = {
        "recovery_windows": rec if rec is None else round(rec, 2),
        "failed_by_429": st.failed_by_429,
    }

    one = Scenario("one account", n=60 if q else 120, scale=60)
    two = Scenario("two accounts", n=120 if q else 240, scale=60, accounts=2)
    with fresh_database() as url:
        r1 = await run_operator(one, url, seed_no=4)
    u1 = show(r1, "one account")
    with fresh_database() as url:
        r2 = await run_operator(two, url, seed_no=5)
    u2 = show(r2, "two accounts")
    rate1 = u1["utilisation"] * RATE / WINDOW
    rate2 = u2["utilisation"] * 2 * RATE / WINDOW
    print(f"  creations/s while queued: one {rate1:.2f}, two {rate2:.2f} → {rate2 / rate1:.2f}×")
    out["accounts"] = {
        "two_vs_one": round(rate2 / rate1, 2),
        "one_per_second": round(rate1, 2),
        "two_per_second": round(rate2, 2),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a reduced version of every scenario (< 8 min)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
