"""The CRD's openAPIV3Schema, checked offline with jsonschema: the examples pass, the invalid
examples a schema can judge are refused, and every status the operator writes fits it. What only
the API server decides (pruning, strict field validation, the status subresource, CEL rules) is
proven against a real one in tests/kube/test_crd_server.py."""

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
#: unknown-field.yaml is refused by the server's strict field validation, not by the schema
#: (which prunes unknown fields): tests/kube proves it.
INVALID = sorted(
    p for p in (ROOT / "crds" / "examples" / "invalid").glob("*.yaml") if p.stem != "unknown-field"
)
NOW = 1_800_000_000.0


def errors(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_crd_shape() -> None:
    assert CRD["spec"]["group"] == "vidgen.io" and VERSION["name"] == "v1alpha1"
    assert CRD["spec"]["names"]["shortNames"] == ["vg"]
    assert VERSION["subresources"] == {"status": {}}
    columns = [c["name"] for c in VERSION["additionalPrinterColumns"]]
    assert columns == ["Phase", "Ready", "Message", "Age", "User", "Attempts", "Model", "Error", "Job"]
    wide = {c["name"] for c in VERSION["additionalPrinterColumns"] if c.get("priority", 0) > 0}
    assert wide == {"User", "Attempts", "Model", "Error", "Job"}  # the user id only with -o wide


def test_every_spec_field_is_described() -> None:
    spec = SCHEMA["properties"]["spec"]
    assert spec.get("description")
    missing = [name for name, field in spec["properties"].items() if not field.get("description")]
    assert missing == []


def test_spec_is_immutable_and_conditions_are_a_map() -> None:
    rules = SCHEMA["properties"]["spec"]["x-kubernetes-validations"]
    assert [r["rule"] for r in rules] == ["self == oldSelf"]
    conditions = SCHEMA["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map" and conditions["x-kubernetes-list-map-keys"] == [
        "type"
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_are_refused(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text()))


def test_each_invalid_example_is_refused_for_its_reason() -> None:
    found = {p.stem: errors(yaml.safe_load(p.read_text())) for p in INVALID}
    assert found.keys() == {"missing-user-id", "unknown-model", "overlong-prompt"}
    assert found["missing-user-id"] == ["spec: 'userId' is a required property"]
    assert len(found["unknown-model"]) == 1 and found["unknown-model"][0].startswith("spec/model:")
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
