"""Checks on the user's photo and prompt before anything is paid for. Every problem becomes an
`InputError` with a clear code; nothing here raises anything else."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from vidgen.core.errors import InputError

#: What the video models accept (KIE.AI: jpeg/png/webp), with the content type and extension.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
MIN_SIDE = 64


@dataclass(frozen=True)
class Photo:
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int


def validate_photo(data: bytes, max_bytes: int) -> Photo:
    from PIL import Image

    if not data:
        raise InputError("photo_empty", "the photo is an empty file")
    if len(data) > max_bytes:
        raise InputError("photo_too_large", f"{len(data)} bytes, at most {max_bytes} allowed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.verify()  # structure and checksums
                fmt = img.format or ""
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # every pixel: catches truncated files that verify() lets through
                width, height = img.size
    except Exception as exc:  # Pillow raises many types for bad files; all mean the same here
        raise InputError("photo_invalid", f"not an image or a corrupt one ({type(exc).__name__})") from None
    if fmt not in FORMATS:
        raise InputError("photo_format", f"{fmt or 'unknown'} images are not supported (JPEG, PNG, WebP)")
    if min(width, height) < MIN_SIDE:
        raise InputError("photo_too_small", f"{width}x{height}, at least {MIN_SIDE} px per side")
    content_type, extension = FORMATS[fmt]
    return Photo(data, fmt, content_type, extension, width, height)


def thumbnail_jpeg(photo: Photo, max_side: int = 512) -> bytes:
    """A small JPEG of the photo (what the prompt model is shown)."""
    from PIL import Image

    with Image.open(io.BytesIO(photo.data)) as img:
        rgb = img.convert("RGB")
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=80)
    return out.getvalue()
