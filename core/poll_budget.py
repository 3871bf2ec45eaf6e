"""Which provider tasks to ask about now (issue 13, point 2): where no callback arrives (local
mode, no ingress, a lost callback), one poller in the operator checks the tasks in flight, paced
to stay within KIE.AI's status-request limit (about 10 per second per API key), the
soonest-expected first.

- `StatusBudget`: at most `rate` requests in any `window` seconds (a sliding window). Every
  status request of the key takes from it — the poller's and a callback's confirmation alike.
- `StatusPollPlanner`: the tasks in flight, each first due at submit time + its expected
  duration (the catalogue's `expected_seconds`, the submit line's `expectedSeconds`), then again
  every `min_interval` growing by `growth` up to `max_interval`; a callback hint makes a task
  due at once. `plan(now)` returns the task ids to query now — due ones, earliest due first,
  never more than the budget allows.

How the operator uses them (one planner per API key; `vidgen.runner.kie_status` does the HTTP):

    planner = StatusPollPlanner(StatusBudget(settings.kie_status_rate_per_second))
    planner.add(task_id, submitted_at=line.submittedAt, expected_seconds=line.expectedSeconds)
    ...
    for task_id in planner.plan(time.time()):           # then planner.seen(task_id, now)
        ...                                              # or planner.remove(task_id) when done
    sleep_for = planner.next_wake(now) - now

Pure: no clock of its own (`now` is passed), no I/O."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass


class StatusBudget:
    """At most `rate` requests in any `window` seconds."""

    def __init__(self, rate: int = 10, window: float = 1.0) -> None:
        if rate < 1 or window <= 0:
            raise ValueError("rate must be ≥ 1 and window > 0")
        self.rate = rate
        self.window = window
        self._sent: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()

    def available(self, now: float) -> int:
        self._expire(now)
        return self.rate - len(self._sent)

    def take(self, now: float) -> float:
        """Take one request now (0.0), or say how long to wait before one is free (nothing taken)."""
        self._expire(now)
        if len(self._sent) < self.rate:
            self._sent.append(now)
            return 0.0
        return self._sent[0] + self.window - now

    def next_free(self, now: float) -> float:
        """When the next request may be sent (now, if one is free)."""
        self._expire(now)
        return now if len(self._sent) < self.rate else self._sent[0] + self.window


@dataclass
class _Task:
    task_id: str
    due: float
    interval: float
    polls: int = 0


class StatusPollPlanner:
    def __init__(
        self,
        budget: StatusBudget | None = None,
        *,
        min_interval: float = 5.0,
        max_interval: float = 30.0,
        growth: float = 1.5,
    ) -> None:
        self.budget = budget or StatusBudget()
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.growth = growth
        self._tasks: dict[str, _Task] = {}
        self._heap: list[tuple[float, int, str]] = []  # (due, sequence, task id); stale entries skipped
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def _push(self, task: _Task) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (task.due, self._sequence, task.task_id))

    def add(self, task_id: str, submitted_at: float, expected_seconds: float) -> None:
        """A task at the provider; first due when it is expected to be done. Adding a known task
        again (an operator restart that finds it anew) keeps its schedule."""
        if task_id in self._tasks:
            return
        task = _Task(task_id, submitted_at + max(0.0, expected_seconds), self.min_interval)
        self._tasks[task_id] = task
        self._push(task)

    def remove(self, task_id: str) -> None:
        """The task is done (or written off): no more questions about it."""
        self._tasks.pop(task_id, None)

    def hint(self, task_id: str, now: float) -> bool:
        """A callback says the task may be done: due now (False for a task not in flight)."""
        task = self._tasks.get(task_id)
        if task is None:
            return False
        task.due = min(task.due, now)
        self._push(task)
        return True

    def due_at(self, task_id: str) -> float | None:
        task = self._tasks.get(task_id)
        return task.due if task else None

    def plan(self, now: float) -> list[str]:
        """The task ids to query now: due ones, earliest due first, at most what the budget has
        left (taken from it). Each one is scheduled again `interval` later (growing)."""
        chosen: list[str] = []
        while self._heap and self._heap[0][0] <= now and self.budget.available(now) > 0:
            due, _, task_id = heapq.heappop(self._heap)
            task = self._tasks.get(task_id)
            if task is None or task.due != due or task_id in chosen:
                continue  # removed, or rescheduled since this entry was pushed
            self.budget.take(now)
            chosen.append(task_id)
            task.polls += 1
            task.due = now + task.interval
            task.interval = min(self.max_interval, task.interval * self.growth)
            self._push(task)
        return chosen

    def next_wake(self, now: float) -> float | None:
        """When `plan` may next return something (None: no task in flight)."""
        while self._heap:
            due, _, task_id = self._heap[0]
            task = self._tasks.get(task_id)
            if task is None or task.due != due:
                heapq.heappop(self._heap)
                continue
            return max(due, self.budget.next_free(now))
        return None
