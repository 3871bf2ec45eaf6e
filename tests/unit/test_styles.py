import pytest

from vidgen.core.errors import InputError
from vidgen.core.styles import DEFAULT_STYLE, STYLES, remembered, style
from vidgen.core.texts import LANGUAGES, keys


def test_every_style_has_a_title_and_a_preview_in_every_language() -> None:
    for lang in LANGUAGES:
        for preset in STYLES:
            assert {f"style.{preset.id}", f"style.{preset.id}.preview"} <= keys(lang)


def test_apply_and_lookup() -> None:
    assert style("none").apply(" a cat ") == "a cat"
    assert style("anime").apply("a cat").startswith("a cat. Anime style")
    assert style("anime").apply("") == style("anime").words
    with pytest.raises(InputError) as raised:
        style("vaporwave")
    assert raised.value.key == "input.unknown_style"
    assert remembered("vaporwave") == DEFAULT_STYLE and remembered(None) == DEFAULT_STYLE
    assert remembered("anime") == "anime"
