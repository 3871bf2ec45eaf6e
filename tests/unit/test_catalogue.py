"""The model catalogue: prices by length and resolution, options checked, disabled models refused."""

from __future__ import annotations

import pytest

from vidgen.core.catalogue import ALL_MODELS, CATALOGUE, DEFAULT_MODEL, FAMILIES, MODELS, model_info
from vidgen.core.errors import InputError


def test_every_model_is_well_formed() -> None:
    assert DEFAULT_MODEL in MODELS
    assert len(ALL_MODELS) == len(CATALOGUE)
    for info in CATALOGUE:
        assert info.family in FAMILIES
        assert info.durations and info.aspect_ratios and info.resolutions
        assert set(info.prices) == set(info.durations), info.id
        assert all(p >= 1 for p in info.prices.values())


def test_a_long_pro_clip_costs_more_than_a_short_cheap_one() -> None:
    pro = ALL_MODELS["sora-2-pro-image-to-video"].price(15, "high")
    wan = ALL_MODELS["wan/2-6-image-to-video"].price(5)
    assert pro > wan == 1
    assert MODELS[DEFAULT_MODEL].price() == 1


@pytest.mark.parametrize(
    ("model", "aspect", "duration", "resolution", "code"),
    [
        ("sora-2-image-to-video", "square", 10, None, "bad_aspect_ratio"),
        ("sora-2-image-to-video", "portrait", 5, None, "bad_duration"),
        ("wan/2-6-image-to-video", "portrait", 5, "4k", "bad_resolution"),
        ("hailuo/2-3-image-to-video-pro", "portrait", 10, "1080P", "bad_resolution"),
    ],
)
def test_options_a_model_does_not_take_are_refused(
    model: str, aspect: str, duration: int, resolution: str | None, code: str
) -> None:
    with pytest.raises(InputError) as err:
        ALL_MODELS[model].check(aspect, duration, resolution)
    assert err.value.code == code


def test_unknown_and_disabled_models_are_refused_by_name() -> None:
    with pytest.raises(InputError) as err:
        model_info("sora-3")
    assert err.value.code == "unknown_model"
    with pytest.raises(InputError) as err:
        model_info(DEFAULT_MODEL, disabled=frozenset({DEFAULT_MODEL}))
    assert err.value.code == "disabled_model"
