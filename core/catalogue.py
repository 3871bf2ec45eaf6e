"""The model catalogue: every image-to-video model a user can pick, with what it accepts and what
it costs. The bot's options, `vidgen generate --model`, the HTTP API, the CRD's validation, the
runner's provider adapters and the fakes all read it from here.

Prices are in credits (the unit users buy with Stars). A model's price depends on the clip's
length and resolution: a 15-second Sora 2 Pro in high quality costs more than a 5-second Wan
clip. `credits_per_video` (a setting) scales every price; 1 by default.

`family` names the KIE.AI API the model is reached through (one adapter each):
- `jobs`: the market jobs API (`/api/v1/jobs/createTask`, `recordInfo`);
- `veo`: the Veo 3.1 API (`/api/v1/veo/generate`, `record-info`);
- `runway`: the Runway API (`/api/v1/runway/generate`, `record-detail`).

`enabled` says whether vidgen offers it by default (a model whose adapter is not finished, or
that an operator turns off with VIDGEN_DISABLED_MODELS, is refused with a clear message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import InputError

JOBS = "jobs"
VEO = "veo"
RUNWAY = "runway"
FAMILIES = (JOBS, VEO, RUNWAY)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    title: str
    family: str = JOBS
    aspect_ratios: tuple[str, ...] = ("portrait", "landscape")
    durations: tuple[int, ...] = (10, 15)
    #: Resolutions offered ("" = the model has no choice); the first is the default.
    resolutions: tuple[str, ...] = ("",)
    #: credits by duration at the default resolution
    prices: Mapping[int, int] = field(default_factory=dict)
    #: extra credits for each resolution after the default one, by resolution
    resolution_extra: Mapping[str, int] = field(default_factory=dict)
    #: (duration, resolution) pairs the model refuses
    excluded: frozenset[tuple[int, str]] = frozenset()
    enabled: bool = True
    #: typical seconds from task creation to a finished video (the status poller's first look,
    #: and the `expectedSeconds` hint of `vidgen runner submit`)
    expected_seconds: int = 240

    @property
    def default_duration(self) -> int:
        return self.durations[0]

    @property
    def default_resolution(self) -> str:
        return self.resolutions[0]

    def price(self, duration: int | None = None, resolution: str | None = None) -> int:
        """Credits for one clip (before the `credits_per_video` scale)."""
        duration = self.default_duration if duration is None else duration
        resolution = self.default_resolution if resolution in (None, "") else resolution
        return self.prices.get(duration, 1) + self.resolution_extra.get(resolution or "", 0)

    def check(self, aspect_ratio: str, duration: int, resolution: str | None) -> None:
        """InputError naming the first option this model does not take."""
        if aspect_ratio not in self.aspect_ratios:
            raise InputError("bad_aspect_ratio", aspect_ratio)
        if duration not in self.durations:
            raise InputError("bad_duration", str(duration))
        res = resolution or ""
        if res and res not in self.resolutions:
            raise InputError("bad_resolution", res)
        if (duration, res or self.default_resolution) in self.excluded:
            raise InputError("bad_resolution", f"{res or self.default_resolution} at {duration} s")


CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo("sora-2-image-to-video", "Sora 2", prices={10: 1, 15: 2}, expected_seconds=240),
    ModelInfo(
        "sora-2-pro-image-to-video",
        "Sora 2 Pro",
        resolutions=("standard", "high"),
        prices={10: 3, 15: 4},
        resolution_extra={"high": 2},
        expected_seconds=420,
    ),
    ModelInfo(
        "kling-2.6/image-to-video",
        "Kling 2.6",
        durations=(5, 10),
        prices={5: 1, 10: 2},
        expected_seconds=150,
    ),
    ModelInfo(
        "wan/2-6-image-to-video",
        "Wan 2.6",
        durations=(5, 10, 15),
        resolutions=("720p", "1080p"),
        prices={5: 1, 10: 1, 15: 2},
        resolution_extra={"1080p": 1},
        expected_seconds=180,
    ),
    ModelInfo(
        "hailuo/2-3-image-to-video-pro",
        "Hailuo 2.3 Pro",
        durations=(6, 10),
        resolutions=("768P", "1080P"),
        prices={6: 1, 10: 2},
        resolution_extra={"1080P": 1},
        excluded=frozenset({(10, "1080P")}),
        expected_seconds=180,
    ),
    ModelInfo(
        "bytedance/seedance-1.5-pro",
        "Seedance 1.5 Pro",
        durations=(4, 8, 12),
        resolutions=("720p", "1080p"),
        prices={4: 1, 8: 1, 12: 2},
        resolution_extra={"1080p": 1},
        expected_seconds=120,
    ),
    ModelInfo("veo3_fast", "Veo 3.1 Fast", family=VEO, durations=(8,), prices={8: 2}, expected_seconds=90),
    ModelInfo("veo3", "Veo 3.1 Quality", family=VEO, durations=(8,), prices={8: 6}, expected_seconds=240),
    ModelInfo(
        "runway-gen4",
        "Runway",
        family=RUNWAY,
        durations=(5, 10),
        resolutions=("720p", "1080p"),
        prices={5: 1, 10: 2},
        resolution_extra={"1080p": 1},
        excluded=frozenset({(10, "1080p")}),
        expected_seconds=120,
    ),
)

#: Every model by id (enabled or not).
ALL_MODELS: dict[str, ModelInfo] = {m.id: m for m in CATALOGUE}
#: The models offered by default, by id (what the bot shows).
MODELS: dict[str, ModelInfo] = {m.id: m for m in CATALOGUE if m.enabled}
DEFAULT_MODEL = "sora-2-image-to-video"


def model_info(model: str, disabled: frozenset[str] = frozenset()) -> ModelInfo:
    """The catalogue's entry, or InputError("unknown_model" / "disabled_model")."""
    info = ALL_MODELS.get(model)
    if info is None:
        raise InputError("unknown_model", model)
    if not info.enabled or model in disabled:
        raise InputError("disabled_model", model)
    return info
