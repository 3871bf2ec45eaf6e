"""Admission at scale: `admit` over 1k / 10k / 100k queued generations.

Prints, per queue size: time per pass (p50 / p99 over repeated passes) and the memory the
queue and one pass take (tracemalloc peak). Run: `.venv/bin/python bench/admission.py`.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
import tracemalloc

from vidgen.core.admission import (
    AdaptiveLimit,
    CreationWindow,
    QueueItem,
    RunningItem,
    admit,
    queue_positions,
)


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


def bench(n: int, passes: int) -> dict[str, float]:
    rng = random.Random(n)
    tracemalloc.start()
    queue = make_queue(n, users=max(10, n // 5), rng=rng)
    running = [RunningItem(f"r{i}", rng.randrange(50)) for i in range(7)]
    limit = AdaptiveLimit.start(maximum=10, window=60, now=0.0)
    window = CreationWindow(limit=20, window=10.0)
    times = []
    for k in range(passes):
        now = 1000.0 + k
        t0 = time.perf_counter()
        chosen = admit(queue, running, limit.current, per_user=2, now=now, creations=window.available(now))
        window = window.record(now, len(chosen))
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    queue_positions(queue)
    positions = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    return {
        "queued": n,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
        "positions_ms": positions * 1000,
        "peak_mib": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--passes", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"{'queued':>8} {'admit p50 ms':>13} {'admit p99 ms':>13} {'positions ms':>13} {'peak MiB':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        r = bench(n, args.passes if n <= 10000 else max(5, args.passes // 5))
        print(
            f"{r['queued']:>8} {r['p50_ms']:>13.2f} {r['p99_ms']:>13.2f} {r['positions_ms']:>13.2f} {r['peak_mib']:>9.1f}"
        )


if __name__ == "__main__":
    main()
