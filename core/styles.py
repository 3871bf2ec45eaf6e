"""Style presets: data, not code. Each is a prompt template the user's prompt goes into (or, when
the AI writes the prompt, the style's own words alone); its title and a one-line preview are texts
(`style.<id>`, `style.<id>.preview` in the catalogues). The bot offers them on the options screen
and remembers the user's last choice; a preset removed from this table is refused by name
(`InputError("unknown_style")`) and a remembered one falls back to `none`."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Style:
    id: str
    #: The words added to the prompt ("" for none).
    words: str

    def apply(self, prompt: str) -> str:
        """The prompt in this style: the user's words first, then the style's."""
        prompt = prompt.strip()
        if not self.words:
            return prompt
        return f"{prompt}. {self.words}" if prompt else self.words


STYLES: tuple[Style, ...] = (
    Style("none", ""),
    Style(
        "cinematic",
        "Cinematic style: film grain, shallow depth of field, slow dolly camera move, warm light.",
    ),
    Style("anime", "Anime style: cel shading, vivid colours, expressive motion, clean line art."),
    Style(
        "claymation", "Claymation style: handmade plasticine look, stop-motion movement, soft studio light."
    ),
    Style(
        "vintage", "Vintage home-movie style: 8 mm film, faded colours, light leaks, gentle handheld shake."
    ),
)
BY_ID: dict[str, Style] = {s.id: s for s in STYLES}
DEFAULT_STYLE = "none"


def style(style_id: str) -> Style:
    """The preset, or InputError("unknown_style") when it is not (or no longer) offered."""
    found = BY_ID.get(style_id)
    if found is None:
        raise InputError("unknown_style", style_id)
    return found


def remembered(style_id: str | None) -> str:
    """A user's remembered style if it still exists, else the default."""
    return style_id if style_id in BY_ID else DEFAULT_STYLE
