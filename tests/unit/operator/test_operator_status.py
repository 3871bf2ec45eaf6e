"""The status as data: reading it, and the merge patch of each transition."""

from __future__ import annotations

from typing import Any

import pytest

from vidgen.core.errors import DELIVERY_FAILED_KEY, ErrorClass, Failure
from vidgen.core.lifecycle import Phase
from vidgen.core.result import RunnerResult
from vidgen.core.status import (
    CANCELLED,
    NOTIFIED,
    READY,
    REFUNDED,
    Generation,
    failure_message_key,
    is_settled,
    iso,
    merge,
    notify_claim,
    notify_done,
    parse_time,
    refund_patch,
    set_condition,
    to_delivered,
    to_delivering,
    to_failed,
    to_generated,
    to_queued,
    to_requeued,
    to_running,
)

NOW = 1_800_000_000.0


def body(status: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "vg-7-abc", "uid": "u-7", **meta},
        "spec": {"userId": 7, "chatId": 70, "photo": "inputs/vg-7-abc.jpg", "language": "ru"},
        "status": status or {},
    }


def test_time_round_trip() -> None:
    assert iso(NOW) == "2027-01-15T08:00:00.000Z"
    assert parse_time(iso(NOW + 0.25)) == pytest.approx(NOW + 0.25)
    assert parse_time("2027-01-15T08:00:00Z") == NOW
    assert parse_time(None) is None and parse_time("nonsense") is None


def test_reading_a_body() -> None:
    gen = Generation.from_body(body(creationTimestamp="2027-01-15T08:00:00Z"))
    assert gen.phase is Phase.PENDING and gen.attempts == 0 and gen.uid == "u-7"
    assert gen.spec.language == "ru" and gen.spec.chat_id == 70
    assert gen.requested_at == NOW and not gen.deleting
    assert Generation.from_body(body(deletionTimestamp="2027-01-15T08:00:00Z")).deleting
    assert Generation.from_body(body({"phase": "Bogus"})).phase is Phase.PENDING


def test_transitions_compose_into_a_consistent_status() -> None:
    gen = Generation.from_body(body())
    gen = gen.with_status(to_queued(gen, NOW))
    assert gen.phase is Phase.QUEUED and gen.queued_at == pytest.approx(NOW)
    gen = gen.with_status(to_running(gen, 1, "vg-7-abc-a1", NOW + 1))
    assert (gen.phase, gen.attempts, gen.job_name) == (Phase.RUNNING, 1, "vg-7-abc-a1")
    failure = Failure(ErrorClass.RATE_LIMIT, "provider_429", "slow down")
    gen = gen.with_status(to_requeued(gen, failure, NOW + 30))
    assert gen.phase is Phase.QUEUED and gen.not_before == pytest.approx(NOW + 30) and gen.error == failure
    gen = gen.with_status(to_running(gen, 2, "vg-7-abc-a2", NOW + 31))
    assert gen.not_before is None and gen.attempts == 2
    result = RunnerResult.success(video="outputs/vg-7-abc.mp4", bytes=5, duration=8.0, taskId="t1")
    gen = gen.with_status(to_generated(gen, result))
    assert gen.phase is Phase.GENERATED and gen.error is None
    assert gen.result == {"video": "outputs/vg-7-abc.mp4", "bytes": 5, "duration": 8.0}
    assert gen.status["providerTaskId"] == "t1"
    gen = gen.with_status(to_delivering(gen, 1))
    assert gen.delivery_attempts == 1
    gen = gen.with_status(to_delivered(gen, "file-1", NOW + 40))
    assert gen.phase is Phase.DELIVERED and gen.result["telegramFileId"] == "file-1"
    assert gen.result["video"] == "outputs/vg-7-abc.mp4"  # merged, not replaced
    assert gen.condition(READY)["status"] == "True"  # type: ignore[index]
    assert gen.settled


def test_failure_settlement_conditions() -> None:
    gen = Generation.from_body(body({"phase": "Running", "attempts": 1}))
    failure = Failure(ErrorClass.USER_VIOLATION, "provider_422", "no")
    gen = gen.with_status(to_failed(gen, failure, NOW))
    assert gen.phase is Phase.FAILED and not gen.refund_settled and not gen.settled
    assert gen.view().refunded is False
    gen = gen.with_status(refund_patch(gen, True, "Refunded", NOW))
    assert gen.refund_settled and gen.view().refunded and not gen.notified
    gen = gen.with_status(notify_claim(gen, NOW))
    assert gen.notified and gen.condition(NOTIFIED)["status"] == "Unknown"  # type: ignore[index]
    gen = gen.with_status(notify_done(gen, True, "", NOW + 1))
    assert gen.condition(NOTIFIED)["status"] == "True"  # type: ignore[index]
    assert gen.settled and is_settled(gen.status)
    owed_nothing = Generation.from_body(body({"phase": "Failed"}))
    owed_nothing = owed_nothing.with_status(refund_patch(owed_nothing, False, "NotDebited", NOW))
    assert owed_nothing.refund_settled and not owed_nothing.status["refunded"]
    assert owed_nothing.condition(REFUNDED)["reason"] == "NotDebited"  # type: ignore[index]


def test_condition_times_move_only_on_change() -> None:
    conds = set_condition([], READY, "False", "a", "", NOW)
    again = set_condition(conds, READY, "False", "b", "m", NOW + 5)
    assert again[0]["lastTransitionTime"] == iso(NOW) and again[0]["reason"] == "b"
    flipped = set_condition(again, READY, "True", "c", "", NOW + 9)
    assert flipped[0]["lastTransitionTime"] == iso(NOW + 9) and len(flipped) == 1


def test_merge_patch_semantics() -> None:
    assert merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": None, "e": 4}, "d": None}) == {
        "a": {"c": 2, "e": 4}
    }


def test_message_keys() -> None:
    assert failure_message_key(Failure(ErrorClass.BILLING, "provider_402")) == "error.billing"
    assert failure_message_key(Failure(ErrorClass.TEMPORARY, "delivery_failed")) == DELIVERY_FAILED_KEY
    assert failure_message_key(CANCELLED) == "error.cancelled"


def test_settled_means_nothing_left_to_do() -> None:
    assert is_settled({"phase": "Delivered"})
    assert not is_settled({}) and not is_settled({"phase": "Running"})
    assert not is_settled({"phase": "Failed", "refunded": True})
    notified = [{"type": "Notified", "status": "Unknown"}]
    assert is_settled({"phase": "Failed", "refunded": True, "conditions": notified})
    owed_nothing = [{"type": "Refunded", "status": "False"}, *notified]
    assert is_settled({"phase": "Failed", "refunded": False, "conditions": owed_nothing})
