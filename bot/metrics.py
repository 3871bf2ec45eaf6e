"""The bot's Prometheus metrics (names agreed in contracts.md), served on its own /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

UPDATES = Counter("vidgen_bot_updates_total", "Telegram updates handled, by update type", ["type"])
UPDATE_DURATION = Histogram(
    "vidgen_bot_update_duration_seconds",
    "Time to handle one update",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ERRORS = Counter("vidgen_bot_errors_total", "Errors while handling updates, by kind", ["kind"])
DUPLICATE_UPDATES = Counter(
    "vidgen_bot_duplicate_updates_total", "Updates delivered again after they were handled (skipped)"
)
PAYMENTS = Counter("vidgen_bot_payments_total", "Stars payment steps, by status", ["status"])
GENERATIONS_REQUESTED = Counter(
    "vidgen_bot_generations_requested_total", "Generations requested (debited) through the bot"
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
