"""The offline provider: a real short MP4 made from the photo (a slow zoom with a gentle pan)
by the ffmpeg binary that imageio-ffmpeg ships. It is what runs when no KIE.AI key is set, so
demos, local mode and the cluster e2e need no paid account.

- latency: `sandbox_latency_seconds` from task creation to "done" (the task id carries its
  creation time, so a restarted attempt resumes it like a real one);
- size: `sandbox_short_side` px on the shorter side, 16:9 or 9:16; `sandbox_fps`;
  length min(requested seconds, `sandbox_max_seconds`);
- scripted failures: `sandbox_failures`, entries `ATTEMPT:CODE[:MESSAGE]` (ATTEMPT a number or
  `*`): code 501 fails the task after the latency (a refused generation), any other code is the
  answer to task creation (429, 402, 500, …). They are classified like KIE.AI's answers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from vidgen.core.errors import ErrorClass, ProviderError, classify_failure
from vidgen.core.settings import ConfigError, Settings

from .media import ffmpeg_exe
from .provider import TaskState, TaskStatus, VideoJob, raise_failure

ZOOM = 0.18  # how far the camera pushes in over the clip


@dataclass(frozen=True)
class ScriptedFailure:
    attempt: int | None  # None: every attempt
    code: int
    message: str


def parse_failures(entries: list[str]) -> list[ScriptedFailure]:
    out: list[ScriptedFailure] = []
    for entry in entries:
        attempt, _, rest = entry.partition(":")
        code, _, message = rest.partition(":")
        try:
            out.append(
                ScriptedFailure(
                    None if attempt.strip() == "*" else int(attempt),
                    int(code),
                    message.strip() or f"sandbox scripted failure {code}",
                )
            )
        except ValueError:
            raise ConfigError(
                f"invalid setting VIDGEN_SANDBOX_FAILURES: {entry!r} is not ATTEMPT:CODE[:MESSAGE]"
            ) from None
    return out


def frame_size(aspect_ratio: str, short_side: int) -> tuple[int, int]:
    short = max(16, short_side // 2 * 2)  # H.264 with yuv420p needs even sides
    long = round(short * 16 / 9 / 2) * 2
    return (short, long) if aspect_ratio == "portrait" else (long, short)


class SandboxProvider:
    name = "sandbox"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.failures = parse_failures(settings.sandbox_failures)

    async def aclose(self) -> None:
        return None

    def _scripted(self, attempt: int, at_creation: bool) -> ScriptedFailure | None:
        for f in self.failures:
            if f.attempt in (None, attempt) and (f.code != 501) == at_creation:
                return f
        return None

    async def create_task(self, job: VideoJob) -> str:
        scripted = self._scripted(job.attempt, at_creation=True)
        if scripted:
            raise_failure(classify_failure(code=scripted.code, message=scripted.message))
        return f"sbx-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"

    async def status(self, task_id: str, job: VideoJob) -> TaskStatus:
        try:
            created = int(task_id.split("-")[1]) / 1000
        except (IndexError, ValueError):
            raise ProviderError(ErrorClass.UNKNOWN, "provider_404", f"no sandbox task {task_id}") from None
        if time.time() - created < self.settings.sandbox_latency_seconds:
            return TaskStatus(TaskState.PENDING, provider_state="generating")
        scripted = self._scripted(job.attempt, at_creation=False)
        if scripted:
            failure = classify_failure(code=scripted.code, message=scripted.message)
            return TaskStatus(TaskState.FAILED, failure=failure, provider_state="fail")
        return TaskStatus(TaskState.SUCCESS, video_url=f"sandbox:{task_id}", provider_state="success")

    async def download(self, status: TaskStatus, job: VideoJob, dest: Path) -> None:
        await render(
            job.photo,
            dest,
            aspect_ratio=job.aspect_ratio,
            seconds=min(float(job.duration_seconds), self.settings.sandbox_max_seconds),
            fps=self.settings.sandbox_fps,
            short_side=self.settings.sandbox_short_side,
        )


async def render(
    photo: bytes, dest: Path, *, aspect_ratio: str, seconds: float, fps: int, short_side: int
) -> None:
    """Encode `photo` as an H.264 MP4 of `seconds` at `fps`: cover-crop, then zoom in slowly
    while drifting sideways."""
    width, height = frame_size(aspect_ratio, short_side)
    frames = max(1, round(seconds * fps))
    src = dest.with_suffix(".src")
    await asyncio.to_thread(src.write_bytes, photo)
    span = max(1, frames - 1)
    filters = ",".join(
        [
            # oversample so the zoom stays smooth, and fill the frame (crop what sticks out)
            f"scale={width * 2}:{height * 2}:force_original_aspect_ratio=increase",
            f"crop={width * 2}:{height * 2}",
            f"zoompan=z='1+{ZOOM}*on/{span}':x='(iw-iw/zoom)*(0.3+0.4*on/{span})':"
            f"y='(ih-ih/zoom)/2':d=1:s={width}x{height}:fps={fps}",
            "setsar=1",
            "format=yuv420p",
        ]
    )
    args = [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-loop", "1", "-framerate", str(fps), "-i", str(src),
        "-vf", filters, "-frames:v", str(frames), "-r", str(fps),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-an", "-f", "mp4", str(dest),
    ]  # fmt: skip
    try:
        proc = await asyncio.create_subprocess_exec(
            ffmpeg_exe(), *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        try:
            _, err = await proc.communicate()
        except BaseException:  # cancelled (SIGTERM): do not leave ffmpeg running
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
    finally:
        src.unlink(missing_ok=True)
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise ProviderError(ErrorClass.UNKNOWN, "sandbox_render", detail[0][:300])
