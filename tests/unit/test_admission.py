from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from vidgen.core.admission import (
    Account,
    CreationBudget,
    CreationWindow,
    QueueItem,
    RunningItem,
    account_states,
    admit,
    plan,
    queue_positions,
    shown_position,
)

items = st.lists(
    st.builds(
        QueueItem,
        name=st.uuids().map(lambda u: u.hex[:8]),
        user_id=st.integers(1, 5),
        queued_at=st.floats(0, 1000, allow_nan=False),
        priority=st.integers(0, 2),
    ),
    max_size=40,
    unique_by=lambda i: i.name,
)
running_items = st.lists(
    st.builds(RunningItem, name=st.text(min_size=1, max_size=5), user_id=st.integers(1, 5)), max_size=12
)


@settings(max_examples=300)
@given(items, running_items, st.integers(1, 12), st.integers(1, 4), st.none() | st.integers(0, 20))
def test_admit_holds_caps_and_order(queue, running, limit, per_user, creations) -> None:
    chosen = admit(queue, running, limit, per_user, now=2000.0, creations=creations)
    # never over the global cap, nor over the creation window
    assert not chosen or len(running) + len(chosen) <= limit
    if creations is not None:
        assert len(chosen) <= creations
    # per-user cap: a user who got a start is at most at the cap afterwards
    by_name = {i.name: i for i in queue}
    counts = Counter(r.user_id for r in running)
    for name in chosen:
        counts[by_name[name].user_id] += 1
    assert all(counts[by_name[n].user_id] <= per_user for n in chosen)
    # priority first, FIFO within a priority: the chosen come in queue order...
    keys = [(-by_name[n].priority, by_name[n].queued_at, n) for n in chosen]
    assert keys == sorted(keys)
    # ...and nothing skipped was eligible ahead of a chosen one unless its user was full
    if chosen:
        last = keys[-1]
        full = Counter(r.user_id for r in running)
        for n in chosen:
            full[by_name[n].user_id] += 1
        for item in queue:
            if item.name not in chosen and (-item.priority, item.queued_at, item.name) < last:
                assert full[item.user_id] >= per_user


@given(items, st.integers(1, 12))
def test_admit_fills_free_slots_when_users_allow(queue, limit) -> None:
    chosen = admit(queue, [], limit, per_user=100, now=2000.0)
    assert len(chosen) == min(limit, len(queue))


def test_fifo_within_priority_and_priority_first() -> None:
    q = [QueueItem("a", 1, 1.0), QueueItem("b", 2, 2.0), QueueItem("c", 3, 3.0, priority=1)]
    assert admit(q, [], 2, 5, now=10) == ["c", "a"]
    assert queue_positions(q) == {"c": 1, "a": 2, "b": 3}


def test_not_before_waits() -> None:
    q = [QueueItem("a", 1, 1.0, not_before=50.0), QueueItem("b", 2, 2.0)]
    assert admit(q, [], 5, 5, now=10) == ["b"]
    assert admit(q, [], 5, 5, now=60) == ["a", "b"]


def test_per_user_cap() -> None:
    q = [QueueItem(f"u1-{i}", 1, float(i)) for i in range(5)] + [QueueItem("u2", 2, 10.0)]
    assert admit(q, [RunningItem("r", 1)], 10, 2, now=100) == ["u1-0", "u2"]


def test_full_cap_admits_nothing() -> None:
    assert admit([QueueItem("a", 1, 0)], [RunningItem("r", 2)] * 3, 3, 5, now=1) == []


def test_creation_budget_halves_on_persistent_refusals_and_is_full_one_clean_window_later() -> None:
    budget = CreationBudget(limit=20, window=10.0)
    assert budget.allowed(0) == 20 and budget.recovers_at(0) is None
    budget = budget.on_rate_limited(now=5)
    assert budget.allowed(5) == 10 and budget.recovers_at(5) == 15
    budget = (
        budget.on_rate_limited(now=6).on_rate_limited(now=7).on_rate_limited(now=8).on_rate_limited(now=9)
    )
    assert budget.allowed(9) == 1  # never below one
    assert budget.allowed(18.9) == 1  # the last refusal was at 9: not a clean window yet
    assert budget.allowed(19) == 20  # one clean window: the full rate at once


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 30)), max_size=50))
def test_creation_budget_stays_in_bounds_and_recovers_within_one_window(events) -> None:
    budget = CreationBudget(limit=20, window=10.0)
    now, last = 0.0, None
    for refused, dt in events:
        now += dt
        if refused:
            budget, last = budget.on_rate_limited(now), now
        assert 1 <= budget.allowed(now) <= 20
    if last is not None:
        assert budget.allowed(last + 10.0) == 20


def test_creation_window_never_exceeds_limit() -> None:
    w = CreationWindow(limit=20, window=10.0)
    t, made = 0.0, []
    while t < 60:
        n = w.available(t)
        if n:
            w = w.record(t, n)
            made += [t] * n
        t += 0.25
    for start in made:
        assert sum(1 for x in made if start <= x < start + 10.0) <= 20
    # and it is saturated: 20 per window over 60 s → 120
    assert len(made) == 120


def test_creation_window_next_free() -> None:
    w = CreationWindow(limit=2, window=10.0).record(1.0).record(3.0)
    assert w.available(5.0) == 0
    assert w.next_free(5.0) == 11.0
    assert w.available(11.5) == 1


def test_creation_window_rebuilt_from_recorded_starts_after_a_restart() -> None:
    """The window a restarted operator sees is the one the cluster records (attempt starts)."""
    w = CreationWindow.of(20, 10.0, [0.5] * 15 + [-20.0], now=5.0)
    assert w.available(5.0) == 5  # the 15 of the last window count; the old one does not
    assert w.next_free(5.0, limit=15) == 10.5


def _states(accounts, starts=None, running=None, budgets=None, out=(), now=0.0):
    return account_states(accounts, starts or {}, running or {}, budgets or {}, out, now)


def test_plan_fills_the_window_then_wakes_when_it_frees() -> None:
    queue = [QueueItem(f"q{i:02}", i, float(i)) for i in range(30)]
    states = _states([Account("a", 20, 10.0, 100)], starts={"a": [1.0] * 5}, now=2.0)
    result = plan(queue, [], states, per_user=2, now=2.0)
    assert [n for n, _ in result.starts] == [f"q{i:02}" for i in range(15)]
    assert result.held_by == "rate" and result.wake_at == 11.0


def test_plan_respects_the_ceiling_not_the_rate_when_the_ceiling_binds() -> None:
    queue = [QueueItem(f"q{i}", i, float(i)) for i in range(5)]
    running = [RunningItem(f"r{i}", 100 + i, "a") for i in range(9)]
    states = _states([Account("a", 20, 10.0, 10)], running={"a": 9})
    result = plan(queue, running, states, per_user=2, now=0.0)
    assert result.starts == (("q0", "a"),) and result.held_by == "accounts" and result.wake_at is None


def test_plan_spreads_a_burst_across_accounts_and_skips_one_out_of_rotation() -> None:
    queue = [QueueItem(f"q{i:02}", i, float(i)) for i in range(50)]
    accounts = [Account("a", 20), Account("b", 20), Account("c", 20)]
    result = plan(queue, [], _states(accounts, out=["c"]), per_user=2, now=0.0)
    used = Counter(acc for _, acc in result.starts)
    assert used == {"a": 20, "b": 20}
    assert [n for n, _ in result.starts] == [f"q{i:02}" for i in range(40)]  # FIFO


def test_plan_honours_schedules_per_user_limits_and_the_cap() -> None:
    queue = [
        QueueItem("later", 1, 0.0, not_before=50.0),
        QueueItem("u2-a", 2, 1.0),
        QueueItem("u2-b", 2, 2.0),
        QueueItem("u3", 3, 3.0),
        QueueItem("u4", 4, 4.0),
    ]
    result = plan(queue, [], _states([Account("a")]), per_user=1, now=10.0, cap=2)
    assert [n for n, _ in result.starts] == ["u2-a", "u3"]
    assert result.held_by == "cap"
    result = plan(queue[:1], [], _states([Account("a")]), per_user=1, now=10.0)
    assert result.starts == () and result.wake_at == 50.0


def test_plan_after_persistent_refusals_uses_the_reduced_budget_until_it_recovers() -> None:
    budget = CreationBudget(20, 10.0).on_rate_limited(now=0.0)
    queue = [QueueItem(f"q{i:02}", i, float(i)) for i in range(30)]
    states = _states([Account("a")], budgets={"a": budget}, now=1.0)
    result = plan(queue, [], states, per_user=2, now=1.0)
    assert len(result.starts) == 10 and result.wake_at == 10.0  # the budget is full again at 10
    states = _states([Account("a")], budgets={"a": budget}, now=10.0)
    assert len(plan(queue, [], states, per_user=2, now=10.0).starts) == 20


@settings(max_examples=200)
@given(items, st.integers(1, 3), st.integers(0, 30))
def test_plan_never_exceeds_any_limit(queue, accounts_n, used) -> None:
    accounts = [Account(f"a{i}", rate_limit=5, window=10.0, ceiling=7) for i in range(accounts_n)]
    states = _states(accounts, starts={"a0": [0.0] * min(used, 5)}, now=1.0)
    result = plan(queue, [], states, per_user=3, now=1.0)
    per_account = Counter(acc for _, acc in result.starts)
    assert per_account["a0"] <= 5 - min(used, 5)
    assert all(per_account[a.name] <= 5 for a in accounts)
    assert Counter(n for n, _ in result.starts).most_common(1)[0][1] <= 1 if result.starts else True
    by_user = Counter(next(q.user_id for q in queue if q.name == n) for n, _ in result.starts)
    assert all(c <= 3 for c in by_user.values())


def test_shown_positions_are_exact_at_the_head_and_bucketed_beyond() -> None:
    assert [shown_position(p) for p in (1, 10, 11, 25, 26, 99, 101, 10_001)] == [
        1,
        10,
        10,
        10,
        25,
        50,
        100,
        10_000,
    ]
    # moving 20 places in a queue of 10,000 changes what only a bounded number of users see
    changed = sum(1 for p in range(21, 10_001) if shown_position(p) != shown_position(p - 20))
    assert changed <= 10 + 20 * 13
