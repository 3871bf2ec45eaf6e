"""Video files: the MP4 signature check and a probe (duration, frame size) through the ffmpeg
binary that imageio-ffmpeg ships, so the runner image needs no system ffmpeg."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class NotAVideo(ValueError):
    """The file is not a video ffmpeg can read."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    width: int
    height: int
    fps: float
    codec: str


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def looks_like_mp4(path: Path) -> bool:
    """ISO base media files (MP4, MOV) start with a box whose type is `ftyp`."""
    with open(path, "rb") as src:
        head = src.read(12)
    return len(head) >= 8 and head[4:8] == b"ftyp"


def probe(path: Path) -> VideoInfo:
    """Read the container's metadata (ffmpeg parses the header; no full decode)."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(frames)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise NotAVideo(f"{path.name}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}") from None
    finally:
        frames.close()
    width, height = meta.get("size") or (0, 0)
    duration = float(meta.get("duration") or 0.0)
    if not width or not height or duration <= 0:
        raise NotAVideo(f"{path.name}: no video stream")
    return VideoInfo(
        duration=round(duration, 3),
        width=int(width),
        height=int(height),
        fps=float(meta.get("fps") or 0.0),
        codec=str(meta.get("codec") or ""),
    )
