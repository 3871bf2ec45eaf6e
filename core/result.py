"""The runner's result: one JSON line (≤ 4 KiB) in the pod's termination message, and the
process exit code. Shared by the runner (writes) and the operator / local controller (reads).

Three kinds of line:
- a stored video (`ok`, `video`, …): the whole attempt, or `runner collect`, or a `runner submit`
  that found the video already stored;
- a task at the provider (`ok`, `submitted: true`, `taskId`, `family`, `expectedSeconds`,
  `submittedAt`): `runner submit` created the task (or found its checkpoint); no video yet;
- a failure (`ok: false`, `class`, `code`, `detail`). `runner collect` on a task still running
  answers code `task_pending` (TEMPORARY): not a failed attempt, ask again later.
Every line carries `rateLimitRetries`."""

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
    #: `runner submit`: the task is at the provider (no video yet)
    submitted: bool | None = None
    #: the KIE.AI API family of the model (jobs / veo / runway)
    family: str | None = None
    #: `runner submit`: typical seconds from creation to a finished video (the catalogue's)
    expectedSeconds: int | None = None
    #: `runner submit`: when the task was created (epoch seconds, from the checkpoint)
    submittedAt: float | None = None

    @property
    def is_submitted(self) -> bool:
        """A task at the provider, not yet a video (a `runner submit` line)."""
        return self.ok and bool(self.submitted) and not self.video

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
        family = data.get("family") if isinstance(data.get("family"), str) else None
        if data["ok"] and data.get("submitted") is True and isinstance(data.get("taskId"), str):
            expected, at = data.get("expectedSeconds"), data.get("submittedAt")
            return RunnerResult(
                ok=True,
                submitted=True,
                taskId=data["taskId"],
                family=family,
                model=data.get("model") if isinstance(data.get("model"), str) else None,
                prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
                promptEnhanced=data.get("promptEnhanced")
                if isinstance(data.get("promptEnhanced"), bool)
                else None,
                expectedSeconds=expected if isinstance(expected, int) else None,
                submittedAt=float(at) if isinstance(at, (int, float)) else None,
                rateLimitRetries=absorbed,
            )
        if data["ok"]:
            if not isinstance(data.get("video"), str):
                return None
            fields = {
                k: data.get(k)
                for k in ("video", "bytes", "duration", "model", "taskId", "prompt", "promptEnhanced")
            }
            return RunnerResult(ok=True, **fields, family=family, rateLimitRetries=absorbed)
        try:
            cls = ErrorClass(str(data.get("class", "UNKNOWN")))
        except ValueError:
            cls = ErrorClass.UNKNOWN
        return RunnerResult(
            ok=False,
            error_class=cls,
            code=str(data.get("code") or "unknown"),
            detail=str(data.get("detail") or ""),
            taskId=data["taskId"] if isinstance(data.get("taskId"), str) else None,
            family=family,
            rateLimitRetries=absorbed,
        )
    return None
