"""Admission: which queued generations may start now. Pure functions over plain data.

- `admit`: priority first, then FIFO (queued_at, then name); never over the current limit;
  at most `per_user` running per user; at most `creations` new starts (what the provider's
  request window allows now); items whose `not_before` is in the future wait.
- `AdaptiveLimit`: halves (min 1) on a rate-limit signal, +1 after each clean window, never
  above `maximum`.
- `CreationWindow`: a sliding window of recent task creations. It is used in place of a token
  bucket because a bucket whose capacity equals the provider's per-window limit lets through
  up to twice that limit in one window (a full bucket plus a window's refill); the sliding
  window log never exceeds it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class QueueItem:
    name: str
    user_id: int
    queued_at: float
    priority: int = 0
    not_before: float | None = None


@dataclass(frozen=True)
class RunningItem:
    name: str
    user_id: int


def queue_order(item: QueueItem) -> tuple[int, float, str]:
    return (-item.priority, item.queued_at, item.name)


def admit(
    queue: Iterable[QueueItem],
    running: Sequence[RunningItem],
    limit: int,
    per_user: int,
    now: float,
    creations: int | None = None,
) -> list[str]:
    """Names of the queued items to start now, in start order."""
    slots = limit - len(running)
    if creations is not None:
        slots = min(slots, creations)
    if slots <= 0:
        return []
    per_user_running = Counter(item.user_id for item in running)
    chosen: list[str] = []
    for item in sorted(queue, key=queue_order):
        if len(chosen) >= slots:
            break
        if item.not_before is not None and item.not_before > now:
            continue
        if per_user_running[item.user_id] >= per_user:
            continue
        per_user_running[item.user_id] += 1
        chosen.append(item.name)
    return chosen


def queue_positions(queue: Iterable[QueueItem]) -> dict[str, int]:
    """1-based position of each queued item, in admission order (for progress messages)."""
    return {item.name: i for i, item in enumerate(sorted(queue, key=queue_order), start=1)}


@dataclass(frozen=True)
class AdaptiveLimit:
    current: int
    maximum: int
    window: float
    clean_since: float = 0.0
    minimum: int = 1

    @classmethod
    def start(cls, maximum: int, window: float, now: float) -> AdaptiveLimit:
        return cls(current=maximum, maximum=maximum, window=window, clean_since=now)

    def on_rate_limit(self, now: float) -> AdaptiveLimit:
        """A runner reported a rate limit: halve (at least `minimum`) and restart the clean window."""
        return replace(self, current=max(self.minimum, self.current // 2), clean_since=now)

    def tick(self, now: float) -> AdaptiveLimit:
        """Grow by one for each full clean window that has passed since the last change."""
        if self.current >= self.maximum:
            return replace(self, clean_since=now) if now - self.clean_since >= self.window else self
        windows = int((now - self.clean_since) // self.window)
        if windows <= 0:
            return self
        return replace(
            self,
            current=min(self.maximum, self.current + windows),
            clean_since=self.clean_since + windows * self.window,
        )


@dataclass(frozen=True)
class CreationWindow:
    """Task creations in the last `window` seconds (a sliding window log)."""

    limit: int
    window: float
    stamps: tuple[float, ...] = ()

    def _live(self, now: float) -> tuple[float, ...]:
        return tuple(t for t in self.stamps if t > now - self.window)

    def available(self, now: float) -> int:
        return max(0, self.limit - len(self._live(now)))

    def record(self, now: float, count: int = 1) -> CreationWindow:
        return replace(self, stamps=self._live(now) + (now,) * count)

    def next_free(self, now: float) -> float:
        """When the next creation will be allowed (now if one is free)."""
        live = sorted(self._live(now))
        if len(live) < self.limit:
            return now
        return live[len(live) - self.limit] + self.window
