"""The runner's result: one JSON line (≤ 4 KiB) in the pod's termination message, and the
process exit code. Shared by the runner (writes) and the operator / local controller (reads)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ErrorClass, Failure

MAX_BYTES = 4096

EXIT_OK = 0
EXIT_RETRYABLE = 1
EXIT_FINAL = 2

FINAL_CLASSES = frozenset({ErrorClass.USER_VIOLATION, ErrorClass.BILLING})


@dataclass(frozen=True)
class RunnerResult:
    ok: bool
    video: str | None = None
    bytes: int | None = None
    duration: float | None = None
    model: str | None = None
    taskId: str | None = None
    prompt: str | None = None
    promptEnhanced: bool | None = None
    error_class: ErrorClass | None = None
    code: str | None = None
    detail: str | None = None
    #: 429 refusals of task creation this attempt absorbed (waited out and tried again)
    rateLimitRetries: int = 0

    @classmethod
    def success(cls, **fields: Any) -> RunnerResult:
        return cls(ok=True, **fields)

    @classmethod
    def failed(cls, failure: Failure, **fields: Any) -> RunnerResult:
        return cls(
            ok=False, error_class=failure.error_class, code=failure.code, detail=failure.detail, **fields
        )

    def failure(self) -> Failure:
        return Failure(self.error_class or ErrorClass.UNKNOWN, self.code or "unknown", self.detail or "")

    @property
    def exit_code(self) -> int:
        if self.ok:
            return EXIT_OK
        return EXIT_FINAL if self.error_class in FINAL_CLASSES else EXIT_RETRYABLE

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        if "error_class" in data:
            data["class"] = str(data.pop("error_class"))
        return data


def encode(result: RunnerResult) -> str:
    """One ASCII JSON line of at most MAX_BYTES bytes (long text fields are cut to fit)."""
    data = result.to_dict()
    line = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    for key in ("detail", "prompt"):
        while len(line.encode()) > MAX_BYTES and data.get(key):
            text = str(data[key])
            data[key] = text[: max(0, len(text) - (len(line.encode()) - MAX_BYTES) - 8)] + "…"
            if len(text) <= 1:
                data[key] = ""
            line = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return line


def decode(text: str | None) -> RunnerResult | None:
    """Parse the last JSON line of a termination message; None if there is no valid result."""
    if not text:
        return None
    for line in reversed(text.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            continue
        retries = data.get("rateLimitRetries")
        absorbed = retries if isinstance(retries, int) and retries >= 0 else 0
        if data["ok"]:
            if not isinstance(data.get("video"), str):
                return None
            fields = {
                k: data.get(k)
                for k in ("video", "bytes", "duration", "model", "taskId", "prompt", "promptEnhanced")
            }
            return RunnerResult(ok=True, **fields, rateLimitRetries=absorbed)
        try:
            cls = ErrorClass(str(data.get("class", "UNKNOWN")))
        except ValueError:
            cls = ErrorClass.UNKNOWN
        return RunnerResult(
            ok=False,
            error_class=cls,
            code=str(data.get("code") or "unknown"),
            detail=str(data.get("detail") or ""),
            rateLimitRetries=absorbed,
        )
    return None
