"""Photos as they are stored, normalised with Pillow: every input photo is kept as JPEG (`inputs/<name>.jpg`).
A JPEG is kept byte for byte once it decodes; PNG and WebP are converted (transparency on white)."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from vidgen.core.errors import InputError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}


def normalise_image(data: bytes, quality: int = 92) -> bytes:
    """JPEG bytes for `data`, or InputError("image_unreadable") if it is not a usable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                if fmt not in ACCEPTED_FORMATS:
                    raise InputError("image_unreadable", fmt)
                img.load()
                if img.width < 16 or img.height < 16:
                    raise InputError("image_unreadable", f"{img.width}x{img.height}")
                if fmt in ("JPEG", "MPO") and img.mode in ("RGB", "L"):
                    return data
                if img.mode in ("RGBA", "LA", "P", "PA"):
                    rgba = img.convert("RGBA")
                    rgb = Image.new("RGB", rgba.size, (255, 255, 255))
                    rgb.paste(rgba, mask=rgba.getchannel("A"))
                else:
                    rgb = img.convert("RGB")
                out = io.BytesIO()
                rgb.save(out, "JPEG", quality=quality)
                return out.getvalue()
    except InputError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InputError("image_unreadable", type(exc).__name__) from None
