"""Per-key rate limit: at most `limit` requests in any `window` seconds (a sliding-window log, as
admission's, so a burst at a window's edge cannot pass twice the limit). In-process: with
several API replicas each enforces it on its own. The clock is injected."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float | None:
        """Count a request for `key`; None if allowed, else the seconds until one would be."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.0, hits[0] + self.window - now)
        hits.append(now)
        return None


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
