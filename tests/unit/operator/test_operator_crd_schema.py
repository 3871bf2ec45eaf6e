"""The CRD's openAPIV3Schema does the API server's job: the examples pass, the invalid examples
are refused, and every status the operator writes fits it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.result import RunnerResult
from vidgen.core.status import (
    CANCELLED,
    Generation,
    notify_claim,
    notify_done,
    refund_patch,
    to_delivered,
    to_delivering,
    to_failed,
    to_generated,
    to_queued,
    to_requeued,
    to_running,
)

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
(VERSION,) = CRD["spec"]["versions"]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
EXAMPLES = sorted((ROOT / "crds" / "examples").glob("*.yaml"))
INVALID = sorted((ROOT / "crds" / "examples" / "invalid").glob("*.yaml"))
NOW = 1_800_000_000.0


def errors(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_crd_shape() -> None:
    assert CRD["spec"]["group"] == "vidgen.io" and VERSION["name"] == "v1alpha1"
    assert CRD["spec"]["names"]["shortNames"] == ["vg"]
    assert VERSION["subresources"] == {"status": {}}
    columns = [c["name"] for c in VERSION["additionalPrinterColumns"]]
    assert columns == ["Phase", "User", "Attempts", "Model", "Error", "Age"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_are_refused(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text()))


def test_each_invalid_example_is_refused_for_its_reason() -> None:
    found = {p.stem: errors(yaml.safe_load(p.read_text())) for p in INVALID}
    assert found.keys() == {"missing-user-id", "unknown-phase", "overlong-prompt"}
    assert found["missing-user-id"] == ["spec: 'userId' is a required property"]
    assert len(found["unknown-phase"]) == 1 and found["unknown-phase"][0].startswith("status/phase:")
    assert len(found["overlong-prompt"]) == 1 and "is too long" in found["overlong-prompt"][0]


def body(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "vidgen.io/v1alpha1",
        "kind": "VideoGeneration",
        "metadata": {"name": "vg-9-abc", "generation": 1},
        "spec": {"userId": 9, "chatId": 9, "photo": "inputs/vg-9-abc.jpg"},
        "status": status,
    }


def test_every_status_the_operator_writes_fits_the_schema() -> None:
    gen = Generation.from_body(body({}))
    seen = []

    def step(patch: dict[str, Any]) -> None:
        nonlocal gen
        gen = gen.with_status(patch)
        seen.append(dict(gen.status))

    step(to_queued(gen, NOW))
    step({"queuePosition": 3})
    step(to_running(gen, 1, "vg-9-abc-a1", NOW + 1))
    step(to_requeued(gen, Failure(ErrorClass.RATE_LIMIT, "provider_429", "x" * 5000), NOW + 30))
    step(to_running(gen, 2, "vg-9-abc-a2", NOW + 31))
    result = RunnerResult.success(
        video="outputs/vg-9-abc.mp4", bytes=10, duration=10.0, model="m", prompt="p", taskId="t"
    )
    step(to_generated(gen, result))
    step(to_delivering(gen, 1))
    step(to_delivered(gen, "file-1", NOW + 60))
    failed = Generation.from_body(body({"phase": "Running", "attempts": 1}))
    for patch in (
        to_failed(failed, CANCELLED, NOW),
        refund_patch(failed, True, "Refunded", NOW),
        notify_claim(failed, NOW),
        notify_done(failed, False, "Forbidden: bot was blocked by the user", NOW),
    ):
        failed = failed.with_status(patch)
        seen.append(dict(failed.status))
    for status in seen:
        assert errors(body(status)) == [], status
