"""values.yaml and values.schema.json: every value documented, the schema closed everywhere, a
typo refused (by jsonschema and by Helm itself); the chart's CRD is the repository's crds/ file."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.render import ALL_ON, ALL_ON_BUILTIN, CHART, ROOT, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)

#: Kubernetes objects handed to the pod spec as they are (the API server validates them).
PASS_THROUGH = {"nodeAffinity", "podAffinity", "podAntiAffinity"}
#: Keys whose children are Kubernetes fields, documented by the comment above the key.
K8S_BLOCKS = {"resources", "podSecurityContext", "containerSecurityContext", "accessModes"}


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA)


def merged(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(VALUES)

    def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
        for key, value in src.items():
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                merge(dst[key], value)
            else:
                dst[key] = value

    merge(out, values)
    return out


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("values", [{}, ALL_ON, ALL_ON_BUILTIN])
def test_defaults_and_test_values_satisfy_the_schema(values: dict[str, Any]) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(merged(values))]
    assert errors == []


def object_schemas(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, child in node.items():
            yield from object_schemas(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from object_schemas(child, f"{path}[{i}]")


def test_schema_is_closed_everywhere() -> None:
    """Every object with named properties refuses others; every map says what its values are;
    the only open objects are the pass-through affinity terms."""
    seen = 0
    for path, node in object_schemas(SCHEMA):
        seen += 1
        name = path.rsplit("/", 1)[-1]
        if "properties" in node:
            assert node.get("additionalProperties") is False, path
        elif name in PASS_THROUGH:
            assert "description" in node, path
        else:
            assert isinstance(node.get("additionalProperties"), dict), f"{path}: a map needs a value schema"
    assert seen > 50


def leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, key))
    else:
        yield prefix


def test_every_default_value_is_in_the_schema() -> None:
    """No key in values.yaml that the schema does not describe (the schema would refuse it)."""
    for path in leaf_paths(VALUES):
        node = SCHEMA
        for key in path:
            while "$ref" in node:
                node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            props = node.get("properties")
            assert props is not None and key in props, f"{'.'.join(path)} is not in the schema"
            node = props[key]


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"operater": {"replicas": 2}}, "operater"),  # misspelt top-level key
        ({"operator": {"replica": 2}}, "replica"),  # misspelt nested key
        ({"bot": {"mode": "longpoll"}}, "/bot/mode"),  # not an allowed value
        ({"secrets": {"telegram": {"tokne": "x"}}}, "tokne"),
        ({"monitoring": {"prometheusRule": {"enabeld": True}}}, "enabeld"),
        ({"operator": {"resources": {"requests": {"cpus": "1"}}}}, "cpus"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"config": {"extra": {"lower_case": "x"}}}, "lower_case"),
    ],
)
def test_a_typo_is_refused(values: dict[str, Any], where: str) -> None:
    errors = list(validator().iter_errors(merged(values)))
    assert errors, f"the schema accepted {values}"
    # …and Helm itself refuses to render (helm install would stop here).
    from helm_python import HelmValuesError

    with pytest.raises(HelmValuesError, match=re.escape(where)):
        render(values)


def documented(lines: list[str], index: int) -> bool:
    """Whether the key on line `index` has a comment on the line(s) right above it."""
    above = index - 1
    return above >= 0 and lines[above].strip().startswith("#")


def test_every_value_is_documented() -> None:
    """Like cert-manager's values.yaml: a comment above every key (the children of Kubernetes
    blocks — resources, security contexts — are Kubernetes' own fields)."""
    lines = VALUES_TEXT.splitlines()
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z0-9_.-]+):", line)
        if not m or line.lstrip().startswith("#"):
            continue
        indent, key = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        inside_k8s = any(k in K8S_BLOCKS for _, k in stack)
        if not inside_k8s and not documented(lines, i):
            undocumented.append(".".join([k for _, k in stack] + [key]))
        stack.append((indent, key))
    assert undocumented == []


def test_chart_crd_is_the_single_source() -> None:
    """charts/vidgen/files/crds/videogeneration.yaml is a byte-for-byte copy of
    crds/videogeneration.yaml (after editing the CRD: cp crds/videogeneration.yaml
    charts/vidgen/files/crds/)."""
    source = (ROOT / "crds" / "videogeneration.yaml").read_text()
    copy_ = (CHART / "files" / "crds" / "videogeneration.yaml").read_text()
    assert copy_ == source, "cp crds/videogeneration.yaml charts/vidgen/files/crds/videogeneration.yaml"


def test_rendered_crd_is_the_source_plus_helm_metadata() -> None:
    source = yaml.safe_load((ROOT / "crds" / "videogeneration.yaml").read_text())
    (crd,) = [d for d in render() if d["kind"] == "CustomResourceDefinition"]
    assert crd["spec"] == source["spec"]
    assert crd["metadata"]["name"] == source["metadata"]["name"]
    assert source["metadata"]["labels"].items() <= crd["metadata"]["labels"].items()


def test_crd_examples_are_valid_against_the_rendered_schema() -> None:
    (crd,) = [d for d in render() if d["kind"] == "CustomResourceDefinition"]
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path in sorted((ROOT / "crds" / "examples").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"userId": 1, "chatId": 1, "photo": "x", "model": "nope"}}, schema)
