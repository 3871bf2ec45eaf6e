"""Admission at scale, 1k / 10k / 100k queued generations:

1. core's `plan` alone (operator/admission.py's decision): time per call (p50 / p99) and the
   memory the queue and one call take (tracemalloc peak);
2. the operator's admission pass (`Admission.run_pass`) over an in-memory GenerationStore holding
   the objects as the Kubernetes API returns them (each `list()` parses every object, as the real
   adapter does; no HTTP): time per pass, p50 / p99, and status writes per pass —
   - "full": the cap is reached, nothing to admit (what a trigger runs);
   - "admitting": 10 slots free each time, so 10 start and the queue moves up by 10: only the
     positions users see differently are written (exact near the head, buckets beyond);
   and the process's RSS (VmRSS), in a fresh process per size;
3. `--cluster`: the real kopf operator (`OperatorRuntime`) on the real API server of
   ../shared/kube (or any cluster: --kubeconfig), with N queued VideoGenerations and the cap
   reached (its Jobs cannot run: their image does not exist): pass p50 / p99 and writes per pass
   while nothing can be admitted, and the operator's CPU over a quiet minute.

Run: `.venv/bin/python bench/admission.py` (parts 1–2, about a minute; `--sizes 1000,10000`);
`.venv/bin/python bench/admission.py --cluster --n 10000` (part 3; a few minutes, most of it
creating the objects).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Mapping
from typing import Any

from common import ROOT, machine, pct, quiet_logs, rss_mib

quiet_logs()

from vidgen.core.admission import (  # noqa: E402
    Account,
    QueueItem,
    RunningItem,
    account_states,
    plan,
    queue_positions,
)

CAP = 10


# --- 1. admit ------------------------------------------------------------------------------------


def make_queue(n: int, users: int, rng: random.Random) -> list[QueueItem]:
    return [
        QueueItem(
            name=f"vg-{i}",
            user_id=rng.randrange(users),
            queued_at=float(i),
            priority=rng.choice((0, 0, 0, 1)),
        )
        for i in range(n)
    ]


def bench_admit(n: int, passes: int) -> dict[str, float]:
    rng = random.Random(n)
    tracemalloc.start()
    queue = make_queue(n, users=max(10, n // 5), rng=rng)
    running = [RunningItem(f"r{i}", rng.randrange(50)) for i in range(7)]
    starts: list[float] = []
    times = []
    for k in range(passes):
        now = 1000.0 + k
        t0 = time.perf_counter()
        states = account_states([Account("default")], {"default": starts}, {"default": 7}, {}, (), now)
        chosen = plan(queue, running, states, per_user=2, now=now, cap=CAP)
        starts += [now] * len(chosen.starts)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    queue_positions(queue)
    positions = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "queued": n,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": pct(times, 99) * 1000,
        "positions_ms": positions * 1000,
        "peak_mib": peak / 2**20,
    }


# --- 2. the operator's admission pass ------------------------------------------------------------


def body(i: int, phase: str, now: float) -> dict[str, Any]:
    from vidgen.core.status import iso

    name = f"vg-{100000 + i}-b{i}"
    return {
        "apiVersion": "vidgen.io/v1alpha1",
        "kind": "VideoGeneration",
        "metadata": {
            "name": name,
            "namespace": "vidgen",
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": iso(now - 3600 + i * 0.01),
        },
        "spec": {
            "userId": 100000 + i,
            "chatId": 100000 + i,
            "photo": f"inputs/{name}.jpg",
            "prompt": "the cat turns its head and smiles",
            "model": "sora-2-image-to-video",
            "aspectRatio": "portrait",
            "durationSeconds": 10,
            "priority": 0,
            "language": "en",
            "statusMessageId": 500 + i,
            "requestedAt": iso(now - 3600 + i * 0.01),
        },
        "status": {"phase": phase, "attempts": 0, "queuedAt": iso(now - 3600 + i * 0.01)},
    }


class MemoryStore:
    """`GenerationStore` over dicts shaped like the API's objects (operator/ports.py)."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies = {b["metadata"]["name"]: b for b in bodies}
        self.patches = 0
        self.events = 0

    async def get(self, name: str) -> Any:
        from vidgen.core.status import Generation

        found = self.bodies.get(name)
        return Generation.from_body(found) if found is not None else None

    async def list(self) -> list[Any]:
        from vidgen.core.status import Generation

        return [Generation.from_body(b) for b in self.bodies.values()]

    async def patch_status(self, name: str, patch: Mapping[str, Any]) -> Any:
        from vidgen.core.status import Generation, merge

        found = self.bodies.get(name)
        if found is None:
            return None
        found["status"] = merge(found.get("status") or {}, patch)
        self.patches += 1
        return Generation.from_body(found)

    async def record_event(self, gen: Any, reason: str, message: str, *, warning: bool = False) -> None:
        self.events += 1


class NullExecutor:
    async def start(self, gen: Any, attempt: int, **_: Any) -> str:
        from vidgen.operator.job_manifest import job_name

        return str(job_name(gen.name, attempt))

    async def outcome(self, gen: Any) -> Any:
        raise AssertionError("not used by the admission pass")

    async def stop(self, gen: Any) -> None:
        return None


class NullSettlement:
    """The database side, left out: the pass's own cost is measured (one `started` per start)."""

    async def started(self, *args: Any) -> None:
        return None

    async def queued(self, *args: Any) -> None:
        return None


class NullDelivery:
    async def send_video(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not used by the admission pass")

    async def send_text(self, *args: Any) -> Any:
        raise AssertionError("not used by the admission pass")


class CountingProgress:
    def __init__(self) -> None:
        self.shown = 0

    async def show(self, chat_id: int, message_id: int | None, text: str, *, final: bool = False) -> None:
        self.shown += 1


async def bench_pass(n: int, passes: int) -> dict[str, Any]:
    from vidgen.core.settings import Settings
    from vidgen.operator.handlers import OperatorRuntime  # noqa: F401  (the operator's imports)
    from vidgen.operator.metrics import Metrics
    from vidgen.operator.reconciler import Reconciler

    rss_start = rss_mib()
    clock = [time.time()]
    bodies = [body(i, "Queued", clock[0]) for i in range(n)]
    bodies += [body(n + i, "Running", clock[0]) for i in range(CAP)]
    store = MemoryStore(bodies)
    progress = CountingProgress()
    settings = Settings(_env_file=None, max_concurrency=CAP, telegram_token="1:x")  # type: ignore[call-arg,unused-ignore]
    reconciler = Reconciler(
        settings,
        store,  # type: ignore[arg-type,unused-ignore]
        NullExecutor(),  # type: ignore[arg-type,unused-ignore]
        NullSettlement(),  # type: ignore[arg-type,unused-ignore]
        NullDelivery(),  # type: ignore[arg-type,unused-ignore]
        progress,
        Metrics(),
        clock=lambda: clock[0],
    )
    rss_loaded = rss_mib()

    async def timed() -> float:
        t0 = time.perf_counter()
        await reconciler.admission.run_pass()
        return time.perf_counter() - t0

    first = 0.0
    while True:  # every queued object gets its position, a bounded number per pass
        first += await timed()
        if reconciler.admission.pass_writes[-1] == 0:
            break
    first_patches = store.patches
    full = []
    for _ in range(passes):
        clock[0] += 0.5
        full.append(await timed())
    admitting = []
    patches_before = store.patches
    rounds = max(2, passes // 3)
    for _ in range(rounds):
        for b in store.bodies.values():  # the running ones finish (outside the timing)
            if b["status"]["phase"] == "Running":
                b["status"]["phase"] = "Delivered"
        clock[0] += settings.provider_rate_window_seconds  # the creation window is free again
        admitting.append(await timed())
    return {
        "queued": n,
        "first_s": first,
        "first_patches": first_patches,
        "full_p50_ms": statistics.median(full) * 1000,
        "full_p99_ms": pct(full, 99) * 1000,
        "adm_p50_ms": statistics.median(admitting) * 1000,
        "adm_p99_ms": pct(admitting, 99) * 1000,
        "adm_patches": (store.patches - patches_before) / rounds,
        "adm_patches_max": max(list(reconciler.admission.pass_writes)[-rounds:]),
        "rss_start": rss_start,
        "rss_loaded": rss_loaded,
        "rss_end": rss_mib(),
    }


def child(n: int, passes: int) -> None:
    print(json.dumps(asyncio.run(bench_pass(n, passes))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--cluster", action="store_true", help="part 3: the real operator on a real API server"
    )
    parser.add_argument("--n", type=int, default=10000, help="queued objects for --cluster (10000)")
    parser.add_argument("--kubeconfig", help="a cluster of your own (default: ../shared/kube/up)")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.passes)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(machine())
    if args.cluster:
        from admission_cluster import run_cluster

        run_cluster(args.n, args.kubeconfig)
        return
    print("\n1. core.admission.plan (pure), cap 10, 20 creations / 10 s")
    print(f"{'queued':>8} {'admit p50 ms':>13} {'admit p99 ms':>13} {'positions ms':>13} {'peak MiB':>9}")
    for n in sizes:
        r = bench_admit(n, args.passes if n <= 10000 else max(5, args.passes // 5))
        print(
            f"{r['queued']:>8} {r['p50_ms']:>13.2f} {r['p99_ms']:>13.2f} {r['positions_ms']:>13.2f} {r['peak_mib']:>9.1f}"
        )
    print("\n2. the operator's admission pass (Admission.run_pass over an in-memory GenerationStore), cap 10")
    print(
        f"{'queued':>8} {'1st pass s':>10} {'full p50 ms':>12} {'full p99 ms':>12} {'admitting p50 ms':>17}"
        f" {'admitting p99 ms':>17} {'writes/pass (max)':>18} {'RSS MiB (imports → loaded → end)':>34}"
    )
    for n in sizes:
        passes = args.passes if n <= 10000 else max(3, args.passes // 10)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--passes", str(passes)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        rss = f"{r['rss_start']:.0f} → {r['rss_loaded']:.0f} → {r['rss_end']:.0f}"
        print(
            f"{r['queued']:>8} {r['first_s']:>10.2f} {r['full_p50_ms']:>12.1f} {r['full_p99_ms']:>12.1f}"
            f" {r['adm_p50_ms']:>17.1f} {r['adm_p99_ms']:>17.1f} {r['adm_patches']:>11.0f} ({r['adm_patches_max']:>3}) {rss:>34}"
        )


if __name__ == "__main__":
    main()
