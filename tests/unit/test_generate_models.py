"""`vidgen generate --model`: the choices are the catalogue's enabled models; an unknown or a
disabled model is refused with one clear line that lists what can be picked."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from vidgen.core import catalogue
from vidgen.core.catalogue import MODELS
from vidgen.core.settings import load_settings
from vidgen.local.cli import register
from vidgen.local.generate import GenerateError, build_spec


def test_the_help_lists_the_enabled_models() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    gen = parser._subparsers._group_actions[0].choices["generate"]  # type: ignore[union-attr]
    (model,) = [a for a in gen._actions if a.dest == "model"]
    assert all(m in (model.help or "") for m in MODELS)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_enabled_model_makes_a_spec(model: str) -> None:
    spec = build_spec(load_settings(_env_file=None), "vg-1-abc", "p", model, "portrait")
    assert spec.model == model and spec.duration_seconds == MODELS[model].default_duration


def test_unknown_and_disabled_models_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_env_file=None)
    with pytest.raises(GenerateError) as err:
        build_spec(settings, "vg-1-abc", "p", "sora-3", "portrait")
    assert "'sora-3' is not a model vidgen knows; pick one of: sora-2-image-to-video" in str(err.value)
    assert "\n" not in str(err.value)
    off = dataclasses.replace(MODELS["veo3"], enabled=False)
    monkeypatch.setitem(catalogue.ALL_MODELS, "veo3", off)
    with pytest.raises(GenerateError) as err:
        build_spec(settings, "vg-1-abc", "p", "veo3", "portrait")
    assert str(err.value).startswith("'veo3' is switched off; pick one of:")
