"""Events sort in the order they happened: names and eventTime strictly increase (microseconds),
even within one microsecond or across a clock step back."""

from __future__ import annotations

from types import SimpleNamespace

from vidgen.operator.k8s import EventStamps, event_body, micro_time


def test_event_times_and_names_increase() -> None:
    gen = SimpleNamespace(name="vg-1-abc", uid="u-1")
    now = 1_800_000_000.123456
    bodies = [event_body(gen, "ns", r, "m", False, now) for r in ("Queued", "Started", "Generated")]  # type: ignore[arg-type]
    bodies.append(event_body(gen, "ns", "Delivered", "m", False, now - 5))  # type: ignore[arg-type]
    names = [b["metadata"]["name"] for b in bodies]
    times = [b["eventTime"] for b in bodies]
    assert names == sorted(names) and len(set(names)) == 4
    assert times == sorted(times) and len(set(times)) == 4
    for body in bodies:
        assert body["metadata"]["name"].startswith("vg-1-abc.")
        assert body["action"] == body["reason"] and body["reportingComponent"] == "vidgen-operator"
        assert body["reportingInstance"] and "firstTimestamp" not in body


def test_stamps_and_micro_time() -> None:
    stamps = EventStamps()
    assert stamps.next(1.0) == 1_000_000 and stamps.next(1.0) == 1_000_001 and stamps.next(0.5) == 1_000_002
    assert micro_time(1_800_000_000_123_456) == "2027-01-15T08:00:00.123456Z"


def test_the_bot_creates_generations_with_the_operators_finalizer() -> None:
    from vidgen.core.models import GenerationSpec
    from vidgen.operator import handlers
    from vidgen.operator.k8s_launcher import FINALIZER, manifest

    assert handlers.FINALIZER == FINALIZER
    spec = GenerationSpec(name="vg-1-x", user_id=1, chat_id=1, photo="inputs/vg-1-x.jpg").validate()
    assert manifest(spec, "ns")["metadata"]["finalizers"] == [FINALIZER]
