from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from vidgen.core.admission import (
    AdaptiveLimit,
    CreationWindow,
    QueueItem,
    RunningItem,
    admit,
    queue_positions,
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


def test_adaptive_limit_halves_and_recovers() -> None:
    lim = AdaptiveLimit.start(maximum=8, window=60, now=0)
    lim = lim.on_rate_limit(now=10)
    assert lim.current == 4
    lim = lim.on_rate_limit(now=11).on_rate_limit(now=12).on_rate_limit(now=13)
    assert lim.current == 1  # never below 1
    assert lim.tick(now=70).current == 1  # not a full clean window yet
    lim = lim.tick(now=73)
    assert lim.current == 2
    lim = lim.tick(now=73 + 60 * 10)
    assert lim.current == 8  # bounded by the maximum


@given(st.lists(st.tuples(st.sampled_from(["rl", "tick"]), st.floats(0, 100)), max_size=50))
def test_adaptive_limit_stays_in_bounds(events) -> None:
    lim = AdaptiveLimit.start(maximum=10, window=30, now=0)
    now = 0.0
    for kind, dt in events:
        now += dt
        lim = lim.on_rate_limit(now) if kind == "rl" else lim.tick(now)
        assert 1 <= lim.current <= 10


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
