"""A VideoGeneration as data: `Generation` (spec + CRD-shaped status), the view that core's
decisions take, and the status merge patch of every transition. Pure: no I/O, no clock reads
(`now` is passed in), no kopf and no kubernetes, so the local controller uses it too.

Conditions written here (standard `type/status/reason/message/lastTransitionTime`):
- `Ready`: True once Delivered; False with the error code once Failed.
- `Refunded`: True once the credit went back; False when nothing is owed (never debited).
- `Notified`: the failure message to the user. Unknown = claimed (about to be sent),
  True = sent, False = Telegram refused it. Any value means "do not send again".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .errors import DELIVERY_FAILED_KEY, MESSAGE_KEYS, ErrorClass, Failure
from .lifecycle import GenerationView, Phase
from .models import GenerationSpec
from .result import RunnerResult

READY = "Ready"
REFUNDED = "Refunded"
NOTIFIED = "Notified"

#: Error codes that have their own user text (the rest use the error class's text).
CANCELLED_CODE = "cancelled"
DELIVERY_FAILED_CODE = "delivery_failed"
CANCELLED_KEY = "error.cancelled"
CANCELLED = Failure(ErrorClass.UNKNOWN, CANCELLED_CODE, "deleted before it finished")

MAX_ERROR_MESSAGE = 2000
_PHASES = {str(p): p for p in Phase}
#: The provider account used when only one is configured.
DEFAULT_ACCOUNT = "default"


def iso(ts: float) -> str:
    """RFC 3339 in UTC with milliseconds (the CRD's date-time format)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> float | None:
    """A date-time string (or a number of seconds) → epoch seconds; None if absent or invalid."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    return _parse_text(str(value))


@lru_cache(maxsize=1 << 16)
def _parse_text(value: str) -> float | None:
    """(An admission pass reads the same few timestamps of every object on every pass.)"""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def failure_message_key(failure: Failure) -> str:
    """The core/texts key that tells the user why the video failed."""
    if failure.code == CANCELLED_CODE:
        return CANCELLED_KEY
    if failure.code == DELIVERY_FAILED_CODE:
        return DELIVERY_FAILED_KEY
    return MESSAGE_KEYS[failure.error_class]


def error_dict(failure: Failure) -> dict[str, str]:
    return {
        "class": str(failure.error_class),
        "code": failure.code[:64],
        "message": failure.detail[:MAX_ERROR_MESSAGE],
    }


def failure_of(error: Any) -> Failure | None:
    if not isinstance(error, Mapping) or not error.get("class"):
        return None
    try:
        cls = ErrorClass(str(error["class"]))
    except ValueError:
        cls = ErrorClass.UNKNOWN
    return Failure(cls, str(error.get("code") or "unknown"), str(error.get("message") or ""))


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: float,
) -> list[dict[str, Any]]:
    """The condition list with `type_` set; lastTransitionTime moves only if the status changes."""
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions:
        if cond.get("type") != type_:
            out.append(dict(cond))
            continue
        found = True
        changed = cond.get("status") != status
        out.append(
            {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message[:MAX_ERROR_MESSAGE],
                "lastTransitionTime": iso(now) if changed else cond.get("lastTransitionTime", iso(now)),
            }
        )
    if not found:
        out.append(
            {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message[:MAX_ERROR_MESSAGE],
                "lastTransitionTime": iso(now),
            }
        )
    return out


@dataclass(frozen=True)
class Generation:
    """A VideoGeneration as the reconciler sees it: the spec and the CRD-shaped status."""

    name: str
    spec: GenerationSpec
    status: Mapping[str, Any] = field(default_factory=dict)
    uid: str | None = None
    created_at: float | None = None
    deleting: bool = False
    generation: int | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Generation:
        """From a Kubernetes object (a dict as the API returns it)."""
        meta = body.get("metadata") or {}
        name = str(meta["name"])
        return cls(
            name=name,
            spec=GenerationSpec.from_crd(name, dict(body.get("spec") or {})),
            status=dict(body.get("status") or {}),
            uid=meta.get("uid"),
            created_at=parse_time(meta.get("creationTimestamp")),
            deleting=bool(meta.get("deletionTimestamp")),
            generation=meta.get("generation"),
        )

    # --- reading ---------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return _PHASES.get(self.status.get("phase") or "", Phase.PENDING)

    @property
    def attempts(self) -> int:
        return int(self.status.get("attempts") or 0)

    @property
    def delivery_attempts(self) -> int:
        return int(self.status.get("deliveryAttempts") or 0)

    @property
    def job_name(self) -> str | None:
        return self.status.get("jobName") or None

    @property
    def account(self) -> str:
        """The provider account of the current (or last) attempt."""
        return str(self.status.get("account") or DEFAULT_ACCOUNT)

    @property
    def started_at(self) -> float | None:
        """When the current (or last) attempt started: its task creation, as the provider's
        window counts it."""
        return parse_time(self.status.get("startedAt"))

    @property
    def not_before(self) -> float | None:
        """The earliest start: the later of the status's `notBefore` (a retry's backoff) and the
        spec's `scheduledAt` (a scheduled generation); None when neither is set."""
        times = [
            t
            for t in (parse_time(self.status.get("notBefore")), parse_time(self.spec.scheduled_at))
            if t is not None
        ]
        return max(times) if times else None

    @property
    def queued_at(self) -> float | None:
        return parse_time(self.status.get("queuedAt"))

    @property
    def error(self) -> Failure | None:
        return failure_of(self.status.get("error"))

    @property
    def result(self) -> Mapping[str, Any]:
        return self.status.get("result") or {}

    @property
    def conditions(self) -> list[Mapping[str, Any]]:
        return list(self.status.get("conditions") or [])

    def condition(self, type_: str) -> Mapping[str, Any] | None:
        return next((c for c in self.conditions if c.get("type") == type_), None)

    @property
    def refund_settled(self) -> bool:
        """Refunded, or known to owe nothing (condition Refunded=False)."""
        return refund_settled(self.status)

    @property
    def notified(self) -> bool:
        return self.condition(NOTIFIED) is not None

    @property
    def settled(self) -> bool:
        """Nothing left to do: delivered, or failed with the refund and the message handled."""
        return is_settled(self.status)

    @property
    def requested_at(self) -> float | None:
        """When the user asked (for the duration histogram)."""
        return parse_time(self.spec.requested_at) or self.created_at or self.queued_at

    def view(self) -> GenerationView:
        return GenerationView(
            name=self.name,
            phase=self.phase,
            attempts=self.attempts,
            not_before=self.not_before,
            refunded=self.refund_settled,
            delivery_attempts=self.delivery_attempts,
            error=self.error,
        )

    def with_status(self, patch: Mapping[str, Any]) -> Generation:
        """This generation after a status merge patch (None removes a key)."""
        return Generation(
            self.name,
            self.spec,
            merge(self.status, patch),
            self.uid,
            self.created_at,
            self.deleting,
            self.generation,
        )


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386) of `patch` onto `base`."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# --- transitions: each returns the status merge patch ------------------------------------------


def _base(gen: Generation, phase: Phase) -> dict[str, Any]:
    patch: dict[str, Any] = {"phase": str(phase)}
    if gen.generation is not None:
        patch["observedGeneration"] = gen.generation
    return patch


def to_queued(gen: Generation, now: float) -> dict[str, Any]:
    return {**_base(gen, Phase.QUEUED), "attempts": gen.attempts, "queuedAt": iso(now)}


def to_running(
    gen: Generation, attempt: int, job_name: str, now: float, account: str = DEFAULT_ACCOUNT
) -> dict[str, Any]:
    return {
        **_base(gen, Phase.RUNNING),
        "attempts": attempt,
        "jobName": job_name,
        "account": account,
        "startedAt": iso(now),
        "notBefore": None,
        "queuePosition": None,
    }


def to_generated(gen: Generation, result: RunnerResult) -> dict[str, Any]:
    found = {
        "video": result.video,
        "bytes": result.bytes,
        "duration": result.duration,
        "model": result.model,
        "prompt": result.prompt,
    }
    patch: dict[str, Any] = {
        **_base(gen, Phase.GENERATED),
        "result": {k: v for k, v in found.items() if v is not None},
        "error": None,
    }
    if result.taskId:
        patch["providerTaskId"] = result.taskId
    return patch


def to_requeued(gen: Generation, failure: Failure, not_before: float) -> dict[str, Any]:
    return {**_base(gen, Phase.QUEUED), "notBefore": iso(not_before), "error": error_dict(failure)}


def to_failed(gen: Generation, failure: Failure, now: float) -> dict[str, Any]:
    return {
        **_base(gen, Phase.FAILED),
        "error": error_dict(failure),
        "finishedAt": iso(now),
        "queuePosition": None,
        "conditions": set_condition(gen.conditions, READY, "False", failure.code, failure.detail, now),
    }


def to_delivering(gen: Generation, attempt: int) -> dict[str, Any]:
    return {**_base(gen, Phase.DELIVERING), "deliveryAttempts": attempt}


def to_delivered(gen: Generation, file_id: str, now: float) -> dict[str, Any]:
    return {
        **_base(gen, Phase.DELIVERED),
        "result": {"telegramFileId": file_id},
        "finishedAt": iso(now),
        "conditions": set_condition(gen.conditions, READY, "True", "Delivered", "sent to Telegram", now),
    }


def refund_patch(gen: Generation, refunded: bool, reason: str, now: float) -> dict[str, Any]:
    message = "the credit went back to the user" if refunded else "nothing was debited"
    return {
        "refunded": refunded,
        "conditions": set_condition(
            gen.conditions, REFUNDED, "True" if refunded else "False", reason, message, now
        ),
    }


def notify_claim(gen: Generation, now: float) -> dict[str, Any]:
    return {"conditions": set_condition(gen.conditions, NOTIFIED, "Unknown", "Sending", "", now)}


def notify_done(gen: Generation, sent: bool, detail: str, now: float) -> dict[str, Any]:
    return {
        "conditions": set_condition(
            gen.conditions,
            NOTIFIED,
            "True" if sent else "False",
            "Sent" if sent else "SendFailed",
            detail,
            now,
        )
    }


def refund_settled(status: Mapping[str, Any]) -> bool:
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return bool(status.get("refunded")) or conds.get(REFUNDED) == "False"


def is_settled(status: Mapping[str, Any]) -> bool:
    """Delivered, or Failed with the refund and the user's message handled."""
    phase = status.get("phase") or Phase.PENDING
    if phase == Phase.DELIVERED:
        return True
    conds = {c.get("type") for c in status.get("conditions") or []}
    return phase == Phase.FAILED and refund_settled(status) and NOTIFIED in conds
