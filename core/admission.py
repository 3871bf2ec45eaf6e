"""Admission: which queued generations may start now, and on which provider account. Pure
functions over plain data (no clock reads: `now` is passed in).

The provider (KIE.AI) has two limits per account, and they are different in kind:
- a **creation rate**: at most `rate_limit` task creations per `window` seconds (20 / 10 s);
  a creation over it is refused with 429 and not kept;
- a **concurrency ceiling**: about `ceiling` tasks generating at once (100).

The control rule, and why:
- Each account's creations are counted in a sliding window (`CreationWindow`) built from the
  cluster's own record of when each attempt started, so a restarted operator never starts from
  an empty window and never bursts past the provider's.
- A rate limit slows *creations*, not concurrency. Cutting the number of running attempts does
  not lower the creation rate that caused the 429s (a running attempt makes no more creations).
  So sustained 429s (an attempt that ran out of its in-attempt retries) halve the account's
  creation budget (`CreationBudget`), and the budget returns to the full rate after one clean
  provider window — no slow additive growth: the sliding window already keeps us at the stated
  limit, so the only reason to hold back is a storm in progress, and a window with no persistent
  refusal says it is over. Back at full rate within two windows of the storm's end.
- A near-miss (a 429 absorbed by a retry within the attempt) is not a signal at all: it is our
  own timing against the provider's (we count admissions, it counts arrivals), and reacting to it
  would make the operator slower than a fixed pool of workers.
- Concurrency is bounded by each account's ceiling (and an optional global cap): that is the
  limit the provider really has on running tasks.
- The queue is FIFO by priority then request time; each item goes to the account with the most
  free creations (then the most free concurrency), which spreads a burst across accounts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
    account: str = ""


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
    """Names of the queued items to start now, in start order (one account, one limit)."""
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


#: Positions up to this are shown exactly; beyond it, as "more than B" for the largest bucket
#: B below the position. A pass then rewrites only the statuses whose shown value changes: the
#: head of the queue and the few that cross a bucket, whatever the queue's length.
EXACT_POSITIONS = 10
POSITION_BUCKETS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000)


def shown_position(position: int) -> int:
    """What a user is shown for a 1-based queue position: the position itself near the head,
    else the bucket it is beyond (a value > EXACT_POSITIONS means "more than that")."""
    if position <= EXACT_POSITIONS:
        return position
    return POSITION_BUCKETS[bisect_left(POSITION_BUCKETS, position) - 1]


# --- the creation window and budget ---------------------------------------------------------


@dataclass(frozen=True)
class CreationWindow:
    """Task creations in the last `window` seconds (a sliding window log). Used in place of a
    token bucket because a bucket whose capacity equals the provider's per-window limit lets
    through up to twice that limit in one window; the sliding window log never exceeds it."""

    limit: int
    window: float
    stamps: tuple[float, ...] = ()

    @classmethod
    def of(cls, limit: int, window: float, stamps: Iterable[float], now: float) -> CreationWindow:
        """The window as the recorded attempt starts say it is now."""
        return cls(limit, window, tuple(sorted(t for t in stamps if now - window < t <= now + window)))

    def _live(self, now: float) -> tuple[float, ...]:
        return tuple(t for t in self.stamps if t > now - self.window)

    def used(self, now: float) -> int:
        return len(self._live(now))

    def available(self, now: float, limit: int | None = None) -> int:
        return max(0, (self.limit if limit is None else limit) - len(self._live(now)))

    def record(self, now: float, count: int = 1) -> CreationWindow:
        return replace(self, stamps=self._live(now) + (now,) * count)

    def next_free(self, now: float, limit: int | None = None) -> float:
        """When the next creation will be allowed under `limit` (now if one is free)."""
        limit = self.limit if limit is None else limit
        live = sorted(self._live(now))
        if len(live) < limit:
            return now
        return live[len(live) - limit] + self.window


@dataclass(frozen=True)
class CreationBudget:
    """How many creations per window an account may make now: the full `limit`, or a reduced
    one while 429s persist (halved per persistent refusal, at least 1), back to full one clean
    `window` after the last one."""

    limit: int
    window: float
    reduced: int | None = None
    last_refusal: float | None = None

    def allowed(self, now: float) -> int:
        if self.reduced is None or self.last_refusal is None or now >= self.last_refusal + self.window:
            return self.limit
        return self.reduced

    def on_rate_limited(self, now: float) -> CreationBudget:
        """An attempt's createTask was still refused after its in-attempt retries."""
        return replace(self, reduced=max(1, self.allowed(now) // 2), last_refusal=now)

    def recovers_at(self, now: float) -> float | None:
        """When the full rate comes back (None: it is full)."""
        if self.allowed(now) >= self.limit or self.last_refusal is None:
            return None
        return self.last_refusal + self.window


# --- accounts and the plan ------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """One provider account (one API key) and its limits."""

    name: str
    rate_limit: int = 20
    window: float = 10.0
    ceiling: int = 100


@dataclass(frozen=True)
class AccountState:
    """An account as admission sees it in one pass."""

    account: Account
    window: CreationWindow
    budget: CreationBudget
    running: int = 0
    in_rotation: bool = True

    def creations_free(self, now: float) -> int:
        if not self.in_rotation:
            return 0
        return self.window.available(now, self.budget.allowed(now))

    def running_free(self) -> int:
        return max(0, self.account.ceiling - self.running) if self.in_rotation else 0


@dataclass(frozen=True)
class Plan:
    """What one pass starts, and when the next pass could start more (None: only a change —
    a new request, an attempt ending — can)."""

    starts: tuple[tuple[str, str], ...]  # (generation, account) in start order
    wake_at: float | None
    held_by: str  # "nothing", "empty", "cap", "rate", "schedule", "users", "accounts"


def plan(
    queue: Iterable[QueueItem],
    running: Sequence[RunningItem],
    accounts: Sequence[AccountState],
    *,
    per_user: int,
    now: float,
    cap: int | None = None,
) -> Plan:
    """Who starts now on which account, FIFO, within every account's creation budget and
    ceiling, the global cap and the per-user limit; and when to look again."""
    free_creations = {a.account.name: a.creations_free(now) for a in accounts}
    free_running = {a.account.name: a.running_free() for a in accounts}
    total_free = None if cap is None else max(0, cap - len(running))
    per_user_running = Counter(item.user_id for item in running)
    starts: list[tuple[str, str]] = []
    ordered = sorted(queue, key=queue_order)
    if not ordered:
        return Plan((), None, "empty")
    later: list[float] = []
    held = "nothing"
    for item in ordered:
        if total_free is not None and len(starts) >= total_free:
            held = "cap"
            break
        if item.not_before is not None and item.not_before > now:
            later.append(item.not_before)
            held = held if held != "nothing" else "schedule"
            continue
        if per_user_running[item.user_id] >= per_user:
            held = held if held != "nothing" else "users"
            continue
        room = [n for n in free_creations if free_creations[n] > 0 and free_running[n] > 0]
        if not room:
            held = "rate" if any(free_running[n] > 0 for n in free_running) else "accounts"
            break
        best = max(room, key=lambda n: (free_creations[n], free_running[n], n))
        free_creations[best] -= 1
        free_running[best] -= 1
        per_user_running[item.user_id] += 1
        starts.append((item.name, best))
    if held == "rate":
        # the window, not the cap, holds the queue: look again the moment a creation frees up
        made = Counter(acc for _, acc in starts)
        later += [
            a.window.record(now, made[a.account.name]).next_free(now, a.budget.allowed(now))
            for a in accounts
            if a.in_rotation and free_running[a.account.name] > 0
        ]
        later += [t for a in accounts if (t := a.budget.recovers_at(now)) is not None]
    wake = min((t for t in later if t > now), default=None)
    return Plan(tuple(starts), wake, held)


def account_states(
    accounts: Sequence[Account],
    starts: Mapping[str, Iterable[float]],
    running: Mapping[str, int],
    budgets: Mapping[str, CreationBudget],
    out_of_rotation: Iterable[str],
    now: float,
) -> list[AccountState]:
    """Each account's state from the recorded attempt starts and running counts."""
    out = set(out_of_rotation)
    return [
        AccountState(
            account=a,
            window=CreationWindow.of(a.rate_limit, a.window, starts.get(a.name, ()), now),
            budget=budgets.get(a.name) or CreationBudget(a.rate_limit, a.window),
            running=running.get(a.name, 0),
            in_rotation=a.name not in out,
        )
        for a in accounts
    ]
