"""User-facing texts, looked up by key (never built from exception strings).

`t(key, lang, **values)` formats the text for a language (ru, en), falling back to English for
an unknown language. Every key must exist in every language (a test checks). This module imports
nothing heavy: the operator and the local controller use it too.
"""

from __future__ import annotations

from typing import Any

from . import en, ru

TEXTS: dict[str, dict[str, str]] = {"en": en.TEXTS, "ru": ru.TEXTS}
LANGUAGES = tuple(TEXTS)
DEFAULT = "en"


def language_for(code: str | None) -> str:
    """Map a Telegram `language_code` (e.g. "ru-RU", "uk", None) to a supported language."""
    base = (code or "").split("-")[0].lower()
    if base in TEXTS:
        return base
    if base in ("uk", "be", "kk"):
        return "ru"
    return DEFAULT


def t(key: str, lang: str | None = DEFAULT, **values: Any) -> str:
    table = TEXTS.get(lang or DEFAULT, TEXTS[DEFAULT])
    template = table.get(key) or TEXTS[DEFAULT].get(key)
    if template is None:
        raise KeyError(f"no text for key {key!r}")
    return template.format(**values) if values else template
