"""The operator's Prometheus metrics (names agreed in the contracts; the chart's alerts and
dashboard use them). Each `Metrics` has its own registry, so several operators can live in one
test process; `serve` exposes it on /metrics.

`vidgen_last_admission_timestamp_seconds` is the time of the last completed admission pass (the
admission loop is alive); a stuck queue shows as `vidgen_queue_depth > 0` with
`rate(vidgen_admissions_total)` at zero.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from vidgen.core.errors import ErrorClass
from vidgen.core.lifecycle import Phase

#: Seconds from the request to Delivered/Failed (minutes, typically).
DURATION_BUCKETS = (5, 15, 30, 60, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 3600, 7200)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.generations = Gauge(
            "vidgen_generations", "VideoGenerations per phase now", ["phase"], registry=r
        )
        self.transitions = Counter(
            "vidgen_generation_transitions", "Phase transitions written", ["phase"], registry=r
        )
        self.queue_depth = Gauge("vidgen_queue_depth", "Queued generations", registry=r)
        self.running_jobs = Gauge("vidgen_running_jobs", "Generations running now", registry=r)
        self.concurrency_limit = Gauge(
            "vidgen_concurrency_limit", "Cap on attempts running at once (the accounts' ceilings)", registry=r
        )
        self.concurrency_max = Gauge("vidgen_concurrency_max", "Configured maximum concurrency", registry=r)
        self.admissions = Counter("vidgen_admissions", "Generations admitted (Jobs started)", registry=r)
        self.last_admission = Gauge(
            "vidgen_last_admission_timestamp_seconds", "Time of the last admission pass", registry=r
        )
        self.duration = Histogram(
            "vidgen_generation_duration_seconds",
            "Request to Delivered/Failed",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "vidgen_generation_errors", "Failed attempts by error class", ["error_class"], registry=r
        )
        self.retries = Counter(
            "vidgen_retries", "Attempts requeued by error class", ["error_class"], registry=r
        )
        self.refunds = Counter(
            "vidgen_refunds", "Credits refunded by error class", ["error_class"], registry=r
        )
        self.deliveries = Counter("vidgen_deliveries", "Videos delivered to Telegram", registry=r)
        self.delivery_failures = Counter("vidgen_delivery_failures", "Delivery tries that failed", registry=r)
        self.rate_limited = Counter(
            "vidgen_provider_rate_limited", "Runner results that were provider rate limits", registry=r
        )
        self.rate_limit_absorbed = Counter(
            "vidgen_provider_429_absorbed",
            "createTask refusals (429) the runners absorbed by retrying within their attempt",
            registry=r,
        )
        self.creation_budget = Gauge(
            "vidgen_provider_creation_budget",
            "Task creations per provider window admission allows now, per account",
            ["account"],
            registry=r,
        )
        self.account_in_rotation = Gauge(
            "vidgen_provider_account_in_rotation",
            "1 while a provider account takes attempts; 0 once its key was refused (401/402/433)",
            ["account"],
            registry=r,
        )
        self.admission_passes = Counter("vidgen_admission_passes", "Admission passes run", registry=r)
        self.admission_pass_seconds = Histogram(
            "vidgen_admission_pass_seconds",
            "How long an admission pass took (list, plan, starts, positions)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.position_writes = Counter(
            "vidgen_queue_position_writes",
            "Queue-position status writes (and their progress edits)",
            registry=r,
        )
        # Every labelled series exists from the start (at 0), so alerts and rates see them.
        for phase in Phase:
            self.generations.labels(phase=str(phase))
            self.transitions.labels(phase=str(phase))
        for cls in ErrorClass:
            for family in (self.errors, self.retries, self.refunds):
                family.labels(error_class=str(cls))

    def set_phase_counts(self, counts: Mapping[str, int]) -> None:
        for phase in Phase:
            self.generations.labels(phase=str(phase)).set(counts.get(str(phase), 0))

    def serve(self, port: int, addr: str = "0.0.0.0") -> tuple[WSGIServer, threading.Thread]:
        """Serve /metrics in a thread; port 0 picks a free one (`server.server_port`)."""
        return start_http_server(port, addr=addr, registry=self.registry)
