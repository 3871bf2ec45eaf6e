"""Domain data shared by the bot, the operator, the local controller and the runner."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .catalogue import DEFAULT_MODEL, model_info
from .errors import InputError

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def generation_name(user_id: int, token: str) -> str:
    """A DNS-1123 name for a generation, stable for a given request token (so a retried launch
    never creates two objects)."""
    token = re.sub(r"[^a-z0-9]", "", token.lower())[:16]
    if not token:
        raise ValueError("token must contain letters or digits")
    return f"vg-{abs(int(user_id))}-{token}"


def photo_key(name: str) -> str:
    return f"inputs/{name}.jpg"


def video_key(name: str) -> str:
    return f"outputs/{name}.mp4"


def checkpoint_key(name: str) -> str:
    return f"checkpoints/{name}.json"


@dataclass(frozen=True)
class GenerationSpec:
    """The VideoGeneration's spec (field names are the CRD's camelCase on the wire)."""

    name: str
    user_id: int
    chat_id: int
    photo: str
    prompt: str = ""
    model: str = DEFAULT_MODEL
    aspect_ratio: str = "portrait"
    duration_seconds: int = 10
    status_message_id: int | None = None
    priority: int = 0
    requested_at: str | None = None
    language: str = "en"
    #: the model's resolution ("" = the model's default; the catalogue lists each model's)
    resolution: str = ""
    #: Scheduled generation: not to start before this moment (RFC 3339, UTC); None = now.
    scheduled_at: str | None = None

    def validate(self, max_prompt_chars: int = 1000) -> GenerationSpec:
        if not NAME_RE.match(self.name):
            raise InputError("bad_name", self.name)
        model_info(self.model).check(self.aspect_ratio, self.duration_seconds, self.resolution or None)
        if len(self.prompt) > max_prompt_chars:
            raise InputError("prompt_too_long", str(len(self.prompt)))
        return self

    def to_crd(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "userId": self.user_id,
            "chatId": self.chat_id,
            "photo": self.photo,
            "prompt": self.prompt,
            "model": self.model,
            "aspectRatio": self.aspect_ratio,
            "durationSeconds": self.duration_seconds,
            "priority": self.priority,
            "language": self.language,
        }
        if self.status_message_id is not None:
            spec["statusMessageId"] = self.status_message_id
        if self.requested_at is not None:
            spec["requestedAt"] = self.requested_at
        if self.resolution:
            spec["resolution"] = self.resolution
        if self.scheduled_at is not None:
            spec["scheduledAt"] = self.scheduled_at
        return spec

    @classmethod
    def from_crd(cls, name: str, spec: dict[str, Any]) -> GenerationSpec:
        return cls(
            name=name,
            user_id=int(spec["userId"]),
            chat_id=int(spec["chatId"]),
            photo=str(spec["photo"]),
            prompt=str(spec.get("prompt") or ""),
            model=str(spec.get("model") or DEFAULT_MODEL),
            aspect_ratio=str(spec.get("aspectRatio") or "portrait"),
            duration_seconds=int(spec.get("durationSeconds") or 10),
            status_message_id=spec.get("statusMessageId"),
            priority=int(spec.get("priority") or 0),
            requested_at=spec.get("requestedAt"),
            language=str(spec.get("language") or "en"),
            resolution=str(spec.get("resolution") or ""),
            scheduled_at=spec.get("scheduledAt"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
