import string
from pathlib import Path

import pytest

from vidgen.core.errors import (
    DELIVERY_FAILED_KEY,
    MESSAGE_KEYS,
    InsufficientCredits,
    InvalidAmount,
    NotDebited,
    UnknownUser,
)
from vidgen.core.texts import COUNTED, LANGUAGES, LOCALES, TEXTS, keys, language_for, plural, plural_keys, t


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


def test_every_language_has_the_same_keys_and_plural_units() -> None:
    for lang in LANGUAGES:
        assert keys(lang) == keys("en"), (lang, keys("en") ^ keys(lang))
        assert plural_keys(lang) == plural_keys("en")
    assert set(COUNTED.values()) <= plural_keys("en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_plural_form_renders(lang: str) -> None:
    for unit in plural_keys(lang):
        for n in [*range(0, 130), 1001, 1011, 1021]:
            text = plural(unit, n, lang)
            assert text.startswith(f"{n} ") and "{" not in text, (unit, n, text)


@pytest.mark.parametrize(
    ("lang", "n", "expected"),
    [
        ("en", 1, "1 credit"),
        ("en", 0, "0 credits"),
        ("en", 2, "2 credits"),
        ("ru", 1, "1 кредит"),
        ("ru", 2, "2 кредита"),
        ("ru", 4, "4 кредита"),
        ("ru", 5, "5 кредитов"),
        ("ru", 11, "11 кредитов"),
        ("ru", 12, "12 кредитов"),
        ("ru", 21, "21 кредит"),
        ("ru", 22, "22 кредита"),
        ("ru", 111, "111 кредитов"),
    ],
)
def test_plural_rules(lang: str, n: int, expected: str) -> None:
    assert plural("n.credits", n, lang) == expected


def test_counts_in_texts_are_plural() -> None:
    assert t("menu.text", "en", balance=1).endswith("Balance: 1 credit.")
    assert t("menu.text", "ru", balance=2).endswith("Баланс: 2 кредита.")
    assert "1 кредит." in t("create.accepted", "ru", balance=1)
    assert "2 бесплатных кредита" in t("start.welcome", "ru", free=2, cost=1)
    for lang in LANGUAGES:
        for key, template in TEXTS[lang].items():
            assert "(s)" not in template and "(а)" not in template and "(ов)" not in template, (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    """The .mo next to each .po is compiled from it (`scripts/texts compile`)."""
    pofile = pytest.importorskip("babel.messages.pofile")
    folder = LOCALES / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        source = pofile.read_po(fh)
    compiled = {k: v for k, v in TEXTS[lang].items()}
    for message in source:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for i, form in enumerate(message.string):
                assert plural(message.id[0], _sample(lang, i), lang) == form.format(n=_sample(lang, i))
        else:
            assert compiled.get(message.id) == message.string, (lang, message.id)
    assert Path(folder / "messages.mo").stat().st_size > 0


def _sample(lang: str, form: int) -> int:
    """A number that selects plural form `form` in `lang`."""
    return {"en": [1, 2], "ru": [1, 2, 5]}[lang][form]
