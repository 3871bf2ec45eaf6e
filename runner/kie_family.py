"""One adapter per KIE.AI API family, chosen by the catalogue's `family`:

- `jobs` (`kie_jobs.JobsFamily`): the market jobs API, one `input` spelling per model;
- `veo` (`kie_veo.VeoFamily`): the Veo 3.1 API;
- `runway` (`kie_runway.RunwayFamily`): the Runway API.

An adapter is pure: it builds the create request's body from a VideoJob and the photo's public
URL, and reads the status answer's `data` into a TaskStatus. The HTTP around it (upload, 429
patience, retries, download) is `kie_provider.KieProvider`; the operator's status client
(`kie_status.KieStatusClient`) reuses the same adapters."""

from __future__ import annotations

import functools
from typing import Any, Protocol

from vidgen.core.catalogue import ALL_MODELS, JOBS, RUNWAY, VEO
from vidgen.core.errors import ErrorClass, Failure, InputError, classify_failure

from .provider import TaskState, TaskStatus, VideoJob


class KieFamily(Protocol):
    family: str
    create_path: str
    status_path: str

    def create_body(self, job: VideoJob, image_url: str) -> dict[str, Any]:
        """The JSON body of the create request (what costs money)."""
        ...

    def read_status(self, data: dict[str, Any]) -> TaskStatus:
        """A status answer's `data` (also a callback's `data`) as a TaskStatus."""
        ...


def failed(fail_code: Any, fail_msg: Any, state: str) -> TaskStatus:
    """A task KIE.AI reports as failed, classified by its message like a 501."""
    text = " ".join(str(p) for p in (fail_code, fail_msg) if p not in (None, ""))
    failure = classify_failure(code=501, message=text or "generation failed")
    return TaskStatus(TaskState.FAILED, failure=failure, provider_state=state)


def succeeded(urls: Any, state: str) -> TaskStatus:
    """Success with the first result URL; success without one is a bad answer."""
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str) or not urls[0]:
        return TaskStatus(
            TaskState.FAILED,
            failure=Failure(ErrorClass.UNKNOWN, "bad_response", "success without a result URL"),
            provider_state=state,
        )
    return TaskStatus(TaskState.SUCCESS, video_url=urls[0], provider_state=state)


def portrait_or_landscape(aspect_ratio: str) -> str:
    """The catalogue's aspect names as the ratio strings most families take."""
    return "9:16" if aspect_ratio == "portrait" else "16:9"


def family_of(model: str) -> KieFamily:
    """The adapter for a catalogue model (InputError for a model the catalogue does not know)."""
    info = ALL_MODELS.get(model)
    if info is None:
        raise InputError("unknown_model", model)
    return adapters()[info.family]


@functools.cache
def adapters() -> dict[str, KieFamily]:
    """family name → its adapter (built on first use: the adapters import this module)."""
    from .kie_jobs import JobsFamily
    from .kie_runway import RunwayFamily
    from .kie_veo import VeoFamily

    return {JOBS: JobsFamily(), VEO: VeoFamily(), RUNWAY: RunwayFamily()}
