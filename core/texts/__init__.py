"""User-facing texts: gettext catalogues with plural rules, looked up by key (never built from
exception strings).

The catalogues are `locales/<lang>/LC_MESSAGES/messages.po` (the source; msgid is the text's key)
compiled to `messages.mo` next to it (`scripts/texts compile`; a test checks they agree). Core reads
the `.mo` files with the standard library's `gettext`, so the operator and local mode need no extra
package; the bot hands the same folder to aiogram's i18n (`vidgen.bot.i18n`).

`t(key, lang, **values)` formats the text for a language (ru, en), falling back to English for an
unknown language. Counts are plural-aware: a value named in `COUNTED` (`balance=3`) is rendered
through its plural unit (`n.credits` → "3 credits", «3 кредита»), so templates say `{balance}`, never
"{balance} credits". `plural(unit, n, lang)` renders a unit directly. Every key exists in every
language and every plural form renders (tests check).
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = ("en", "ru")
DEFAULT = "en"

#: Value names that hold a count, and the plural unit that renders them.
COUNTED: dict[str, str] = {
    "balance": "n.credits",
    "cost": "n.credits",
    "needed": "n.credits",
    "credits": "n.credits",
    "amount": "n.credits",
    "free": "n.free_credits",
    "videos": "n.videos",
    "photos": "n.photos",
    "total": "n.credits",
}


@cache
def catalogue(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of a language (read once)."""
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fh:
        return gettext.GNUTranslations(fh)


@cache
def keys(lang: str) -> frozenset[str]:
    """Every key of a language's catalogue (plural units included)."""
    raw: dict[Any, str] = catalogue(lang)._catalog  # type: ignore[attr-defined]
    return frozenset(k[0] if isinstance(k, tuple) else k for k in raw if k)


@cache
def plural_keys(lang: str) -> frozenset[str]:
    raw: dict[Any, str] = catalogue(lang)._catalog  # type: ignore[attr-defined]
    return frozenset(k[0] for k in raw if isinstance(k, tuple))


def language_for(code: str | None) -> str:
    """Map a Telegram `language_code` (e.g. "ru-RU", "uk", None) to a supported language."""
    base = (code or "").split("-")[0].lower()
    if base in LANGUAGES:
        return base
    if base in ("uk", "be", "kk"):
        return "ru"
    return DEFAULT


def _lang(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def plural(unit: str, n: int, lang: str | None = DEFAULT) -> str:
    """A count with its noun in the language's plural form: plural("n.credits", 2, "ru") → «2 кредита»."""
    code = _lang(lang)
    if unit not in plural_keys(code):
        raise KeyError(f"no plural unit {unit!r}")
    return catalogue(code).ngettext(unit, unit, n).format(n=n)


def t(key: str, lang: str | None = DEFAULT, **values: Any) -> str:
    code = _lang(lang)
    table = catalogue(code)
    template = table.gettext(key)
    if template == key and key not in keys(code):
        template = catalogue(DEFAULT).gettext(key)
        if template == key and key not in keys(DEFAULT):
            raise KeyError(f"no text for key {key!r}")
    if not values:
        return template
    for name, unit in COUNTED.items():
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = plural(unit, value, code)
    return template.format(**values)


def templates(lang: str) -> dict[str, str]:
    """Every non-plural key of a language and its template."""
    raw: dict[Any, str] = catalogue(lang)._catalog  # type: ignore[attr-defined]
    return {k: v for k, v in raw.items() if isinstance(k, str) and k}


class _Templates(dict[str, dict[str, str]]):
    def __missing__(self, lang: str) -> dict[str, str]:
        value = self[lang] = templates(lang)
        return value


#: {lang: {key: template}} for the non-plural keys, read from the catalogues on first use.
TEXTS: dict[str, dict[str, str]] = _Templates()
