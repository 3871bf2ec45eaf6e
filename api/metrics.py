"""Prometheus metrics of the HTTP API (its own registry, so several apps in one test process do
not collide): requests by route and status, webhook attempts by result."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vidgen_api_requests",
            "HTTP API requests by route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "vidgen_api_webhook_attempts",
            "Webhook delivery attempts by result (delivered, retried, given_up)",
            ["result"],
            registry=self.registry,
        )

    async def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
