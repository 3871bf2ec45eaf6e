"""The provider checkpoint (`checkpoints/<name>.json`): written right after the provider
accepted the task and before polling, so a restarted attempt resumes that task instead of
paying for a second one. It is removed when the task ends in failure (the next attempt must
start afresh) and gains a `result` once the video is stored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vidgen.core.models import checkpoint_key
from vidgen.core.ports import Storage

VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    name: str
    provider: str
    model: str
    task_id: str
    created_at: float
    prompt: str
    prompt_enhanced: bool
    attempt: int
    result: dict[str, Any] | None = field(default=None)

    def with_result(self, **result: Any) -> Checkpoint:
        return replace(self, result=result)


def load(storage: Storage, name: str) -> Checkpoint | None:
    """The checkpoint, or None if there is none or it cannot be read (then a new task is made)."""
    key = checkpoint_key(name)
    if not storage.exists(key):
        return None
    try:
        data = json.loads(storage.get(key))
        if data.get("version") != VERSION:
            return None
        data.pop("version")
        cp = Checkpoint(**data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if cp.name != name or not isinstance(cp.task_id, str) or not cp.task_id:
        return None
    return cp


def save(storage: Storage, cp: Checkpoint) -> None:
    body = json.dumps({"version": VERSION, **asdict(cp)}, ensure_ascii=False).encode()
    storage.put(checkpoint_key(cp.name), body, "application/json")


def clear(storage: Storage, name: str) -> None:
    storage.delete(checkpoint_key(name))
