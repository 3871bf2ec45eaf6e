"""A scheduled generation carries `scheduledAt` in its spec; the earliest start the admission
sees (`Generation.not_before`) is the later of that and the status's `notBefore`."""

from __future__ import annotations

from datetime import UTC, datetime

from vidgen.core.models import GenerationSpec
from vidgen.core.status import Generation


def spec(**extra: object) -> GenerationSpec:
    return GenerationSpec(name="vg-1-abc", user_id=1, chat_id=1, photo="inputs/vg-1-abc.jpg", **extra)  # type: ignore[arg-type]


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def test_scheduled_at_round_trips_through_the_crd() -> None:
    s = spec(scheduled_at="2026-12-01T20:00:00Z")
    assert s.to_crd()["scheduledAt"] == "2026-12-01T20:00:00Z"
    assert GenerationSpec.from_crd(s.name, s.to_crd()) == s
    assert "scheduledAt" not in spec().to_crd()
    assert GenerationSpec.from_crd("vg-1-abc", spec().to_crd()).scheduled_at is None


def test_not_before_is_the_later_of_status_and_schedule() -> None:
    later, earlier = "2026-12-01T20:00:00Z", "2026-12-01T19:00:00Z"
    assert Generation("vg-1-abc", spec()).not_before is None
    assert Generation("vg-1-abc", spec(scheduled_at=later)).not_before == epoch(later)
    assert Generation("vg-1-abc", spec(), {"notBefore": later}).not_before == epoch(later)
    assert Generation("vg-1-abc", spec(scheduled_at=later), {"notBefore": earlier}).not_before == epoch(later)
    assert Generation("vg-1-abc", spec(scheduled_at=earlier), {"notBefore": later}).not_before == epoch(later)
    assert Generation("vg-1-abc", spec(scheduled_at="garbage")).not_before is None
