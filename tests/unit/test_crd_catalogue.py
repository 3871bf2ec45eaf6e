"""The CRD's validation is the catalogue's: its model enum is the enabled models, its lengths and
resolutions every enabled model's, and a spec with a resolution round-trips."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from vidgen.core.catalogue import DEFAULT_MODEL, MODELS
from vidgen.core.errors import InputError
from vidgen.core.models import GenerationSpec

ROOT = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
SPEC = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]


def test_the_model_enum_is_the_enabled_catalogue() -> None:
    assert SPEC["model"]["enum"] == list(MODELS)
    assert SPEC["model"]["default"] == DEFAULT_MODEL


def test_lengths_and_resolutions_are_the_catalogues() -> None:
    assert set(SPEC["durationSeconds"]["enum"]) == {d for m in MODELS.values() for d in m.durations}
    assert set(SPEC["resolution"]["enum"]) == {r for m in MODELS.values() for r in m.resolutions if r}


def test_the_chart_carries_the_same_crd() -> None:
    chart = ROOT / "charts" / "vidgen" / "files" / "crds" / "videogeneration.yaml"
    assert chart.read_bytes() == (ROOT / "crds" / "videogeneration.yaml").read_bytes()


def spec(**kw: object) -> GenerationSpec:
    base: dict[str, object] = {"name": "vg-1-abc", "user_id": 1, "chat_id": 1, "photo": "inputs/vg-1-abc.jpg"}
    return GenerationSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_resolution_round_trips_and_is_omitted_when_default() -> None:
    wan = spec(model="wan/2-6-image-to-video", duration_seconds=5, resolution="1080p").validate()
    crd = wan.to_crd()
    assert crd["resolution"] == "1080p"
    assert GenerationSpec.from_crd(wan.name, crd) == wan
    assert "resolution" not in spec().to_crd()
    assert GenerationSpec.from_crd("vg-1-abc", spec().to_crd()).resolution == ""


def test_the_schema_accepts_a_catalogue_spec_and_refuses_others() -> None:
    schema = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    obj = {"apiVersion": "vidgen.io/v1alpha1", "kind": "VideoGeneration", "metadata": {"name": "vg-1-abc"}}
    good = spec(model="runway-gen4", duration_seconds=5, resolution="1080p").to_crd()
    jsonschema.validate({**obj, "spec": good}, schema)
    for bad in ({"model": "sora-3"}, {"resolution": "4k"}, {"durationSeconds": 7}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**obj, "spec": {**good, **bad}}, schema)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"model": "runway-gen4", "duration_seconds": 10, "resolution": "1080p"}, "bad_resolution"),
        ({"model": "sora-2-image-to-video", "resolution": "high"}, "bad_resolution"),
    ],
)
def test_validate_checks_the_resolution(kw: dict[str, object], code: str) -> None:
    with pytest.raises(InputError) as err:
        spec(**kw).validate()
    assert err.value.code == code
