"""The status-poll planner: tasks are asked about when they are expected to be done, the
soonest first, and never more than the budget of status requests per second allows — counted
against a virtual clock, whatever the number of tasks in flight."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidgen.core.poll_budget import StatusBudget, StatusPollPlanner


def test_the_budget_is_a_sliding_window() -> None:
    budget = StatusBudget(rate=3, window=1.0)
    assert [budget.take(10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.take(10.5) == pytest.approx(0.5)  # refused: wait until the first one is 1 s old
    assert budget.next_free(10.2) == pytest.approx(11.0)
    assert budget.available(10.99) == 0 and budget.available(11.0) == 3


def test_a_task_is_first_asked_about_when_it_is_expected_done() -> None:
    planner = StatusPollPlanner(StatusBudget(10))
    planner.add("slow", submitted_at=0.0, expected_seconds=240)
    planner.add("fast", submitted_at=0.0, expected_seconds=90)
    assert planner.plan(89.0) == []
    assert planner.next_wake(0.0) == 90.0
    assert planner.plan(90.0) == ["fast"]
    assert planner.plan(95.0) == ["fast"]  # again after min_interval (5 s) …
    assert planner.due_at("fast") == pytest.approx(95.0 + 7.5)  # … growing ×1.5
    assert planner.plan(240.0) == ["fast", "slow"]  # both due: the earlier-due first


def test_soonest_expected_first_when_the_budget_is_short() -> None:
    planner = StatusPollPlanner(StatusBudget(2))
    for i, expected in enumerate([50, 10, 30, 20]):
        planner.add(f"t{i}", submitted_at=0.0, expected_seconds=expected)
    assert planner.plan(100.0) == ["t1", "t3"]  # due at 10 and 20
    assert planner.plan(100.5) == []  # the budget is spent for this second
    assert planner.plan(101.0) == ["t2", "t0"]


def test_a_callback_hint_makes_a_task_due_at_once_and_unknown_ones_are_ignored() -> None:
    planner = StatusPollPlanner(StatusBudget(10))
    planner.add("t", submitted_at=0.0, expected_seconds=300)
    assert planner.hint("t", now=20.0) and planner.plan(20.0) == ["t"]
    assert not planner.hint("forged", now=20.0)
    planner.remove("t")
    assert planner.plan(1000.0) == [] and planner.next_wake(1000.0) is None and len(planner) == 0


def test_re_adding_a_task_keeps_its_schedule() -> None:
    planner = StatusPollPlanner(StatusBudget(10))
    planner.add("t", submitted_at=0.0, expected_seconds=60)
    planner.add("t", submitted_at=500.0, expected_seconds=60)
    assert planner.due_at("t") == 60.0 and len(planner) == 1


def test_500_tasks_in_flight_never_exceed_10_requests_per_second() -> None:
    """The issue's case: 500 tasks at the provider, no callbacks. Step a virtual clock in
    10 ms ticks for 10 minutes; count every status request in every 1-second window."""
    planner = StatusPollPlanner(StatusBudget(10, 1.0))
    for i in range(500):
        planner.add(f"t{i:03d}", submitted_at=i * 0.2, expected_seconds=240)  # 100 s of submissions
    sent: list[tuple[float, str]] = []
    for tick in range(60_000):
        now = tick / 100
        sent += [(now, task) for task in planner.plan(now)]
    times = [t for t, _ in sent]
    peak = max(sum(1 for t in times if start <= t < start + 1.0) for start in {t for t in times})
    assert peak <= 10
    per_task = Counter(task for _, task in sent)
    assert len(per_task) == 500  # every task was asked about …
    assert min(per_task.values()) >= 2  # … and again later
    assert len(sent) > 10 * 300  # the budget is used, not wasted (≥ half of 10/s over the 10 min)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.tuples(st.floats(0, 50), st.floats(0, 60)), min_size=1, max_size=80),
    st.lists(st.floats(0, 0.7), min_size=1, max_size=200),
)
def test_never_over_budget(rate: int, tasks: list[tuple[float, float]], steps: list[float]) -> None:
    planner = StatusPollPlanner(StatusBudget(rate, 1.0), min_interval=0.5)
    for i, (at, expected) in enumerate(tasks):
        planner.add(str(i), at, expected)
    now, sent = 0.0, []
    for step in steps:
        now += step
        sent += [now] * len(planner.plan(now))
    for t in sent:
        assert sum(1 for s in sent if t <= s < t + 1.0) <= rate
