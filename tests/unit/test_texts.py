import string

import pytest

from vidgen.core.errors import (
    DELIVERY_FAILED_KEY,
    MESSAGE_KEYS,
    InsufficientCredits,
    InvalidAmount,
    NotDebited,
    UnknownUser,
)
from vidgen.core.texts import LANGUAGES, TEXTS, language_for, t


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    keys = set(TEXTS["en"])
    for lang in LANGUAGES:
        assert set(TEXTS[lang]) == keys, (
            f"{lang}: missing {keys - set(TEXTS[lang])}, extra {set(TEXTS[lang]) - keys}"
        )
        for key in keys:
            assert fields(TEXTS[lang][key]) == fields(TEXTS["en"][key]), (lang, key)


def test_error_keys_used_by_core_exist() -> None:
    keys = set(MESSAGE_KEYS.values()) | {DELIVERY_FAILED_KEY}
    keys |= {cls.key for cls in (InsufficientCredits, InvalidAmount, NotDebited, UnknownUser)}
    for lang in LANGUAGES:
        assert keys <= set(TEXTS[lang])


@pytest.mark.parametrize(
    ("code", "lang"),
    [("ru", "ru"), ("ru-RU", "ru"), ("uk", "ru"), ("en-GB", "en"), ("de", "en"), (None, "en")],
)
def test_language_for(code, lang) -> None:
    assert language_for(code) == lang


def test_t_formats_and_falls_back() -> None:
    assert t("progress.queued", "ru", position=3).endswith("3.")
    assert t("progress.queued", "xx", position=3) == t("progress.queued", "en", position=3)
    with pytest.raises(KeyError):
        t("no.such.key")
