"""The chart renders with its defaults and with every toggle on, passes `helm lint --strict`,
and every rendered object is valid for Kubernetes 1.29 and 1.33."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.chart.render import (
    ALL_ON,
    ALL_ON_BUILTIN,
    CHART,
    NAMESPACE,
    find,
    render,
    render_files,
    with_required,
)

KUBE_VERSIONS = ["1.29", "1.33"]
CASES = {"defaults": None, "all-on": ALL_ON, "all-on-builtin": ALL_ON_BUILTIN}

#: Custom resources whose schemas kubernetes-validate does not ship; checked structurally below.
NOT_IN_KUBERNETES_VALIDATE = {"monitoring.coreos.com/v1", "kopf.dev/v1"}


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_object_validates(case: str, kube: str) -> None:
    docs = render(CASES[case])
    validated = 0
    for doc in docs:
        if doc["apiVersion"] in NOT_IN_KUBERNETES_VALIDATE:
            continue
        try:
            kubernetes_validate.validate(doc, kube, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} is invalid for {kube}: {exc.message}")
        validated += 1
    assert validated >= 15


@pytest.mark.parametrize("case", list(CASES))
def test_custom_resources_are_well_formed(case: str) -> None:
    """ServiceMonitor, PrometheusRule and KopfPeering: not in kubernetes-validate's schemas, so
    their shape is checked here (the Prometheus rules themselves go through promtool)."""
    for doc in render(CASES[case]):
        if doc["apiVersion"] not in NOT_IN_KUBERNETES_VALIDATE:
            continue
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, doc["kind"]
        assert doc["metadata"]["namespace"] == NAMESPACE
        if doc["kind"] == "ServiceMonitor":
            spec = doc["spec"]
            assert set(spec) == {"jobLabel", "selector", "namespaceSelector", "endpoints"}
            assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
            job = spec["selector"]["matchLabels"]["vidgen.io/metrics-job"]
            assert job in ("vidgen-operator", "vidgen-bot", "vidgen-api")
            port = "http" if job == "vidgen-api" else "metrics"  # the API serves /metrics on its port
            assert spec["endpoints"] == [{"port": port, "path": "/metrics", "interval": "30s"}]
        elif doc["kind"] == "PrometheusRule":
            groups = doc["spec"]["groups"]
            assert [g["name"] for g in groups] == ["vidgen"]
            for rule in groups[0]["rules"]:
                assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
                assert rule["labels"]["severity"] in ("warning", "critical")
                assert {"summary", "description"} <= set(rule["annotations"])
        elif doc["kind"] == "KopfPeering":
            assert doc["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
        else:
            pytest.fail(f"unexpected custom resource {doc['kind']}")


@pytest.mark.parametrize("kube", ["v1.29.0", "v1.33.0"])
@pytest.mark.parametrize("case", list(CASES))
def test_strict_lint(case: str, kube: str) -> None:
    import helm_python

    report = helm_python.lint(
        str(CHART), with_required(CASES[case]), strict=True, kube_version=kube, namespace=NAMESPACE
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


def test_rendered_names_are_unique_and_namespaced() -> None:
    docs = render(ALL_ON_BUILTIN)
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), keys
    cluster_scoped = {"CustomResourceDefinition"}
    for d in docs:
        if d["kind"] not in cluster_scoped:
            assert d["metadata"]["namespace"] == NAMESPACE, d["kind"]
        labels = d["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "vidgen"
        assert labels["app.kubernetes.io/part-of"] == "vidgen"


def test_defaults_produce_the_minimal_set() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in render())
    assert kinds == sorted(
        [
            ("ConfigMap", "vidgen-config"),
            ("CustomResourceDefinition", "videogenerations.vidgen.io"),
            ("Deployment", "vidgen-bot"),
            ("Deployment", "vidgen-operator"),
            ("PersistentVolumeClaim", "vidgen-storage"),
            ("Role", "vidgen-bot"),
            ("Role", "vidgen-operator"),
            ("RoleBinding", "vidgen-bot"),
            ("RoleBinding", "vidgen-operator"),
            ("Secret", "vidgen-runner"),
            ("Secret", "vidgen-secrets"),
            ("Service", "vidgen-bot-metrics"),
            ("Service", "vidgen-operator-metrics"),
            ("Service", "vidgen-postgresql"),
            ("ServiceAccount", "vidgen-bot"),
            ("ServiceAccount", "vidgen-operator"),
            ("ServiceAccount", "vidgen-runner"),
            ("StatefulSet", "vidgen-postgresql"),
        ]
    )


def test_notes_tell_the_next_steps() -> None:
    notes = render_files()["vidgen/templates/NOTES.txt"]
    assert "kubectl get vg -n vidgen" in notes
    assert "secrets.telegram.token" in notes  # no token given: say how to set it
    notes = render_files(ALL_ON)["vidgen/templates/NOTES.txt"]
    assert "kubectl get vg -n vidgen" in notes
    assert "secrets.telegram.token" not in notes


def test_other_release_names_and_overrides() -> None:
    from helm_python import Chart

    with Chart.load(str(CHART)) as chart:
        for values, expected in (
            ({}, {"prod-vidgen-operator", "prod-vidgen-bot", "prod-vidgen-runner"}),
            ({"fullnameOverride": "vg"}, {"vg-operator", "vg-bot", "vg-runner"}),
        ):
            out = chart.render(with_required(values), name="prod", namespace="video", is_install=True)
            names = {
                d["metadata"]["name"]
                for path, text in out.items()
                if not path.endswith("NOTES.txt")
                for d in yaml.safe_load_all(text)
                if d
            }
            assert expected <= names


def _all_objects_valid(values: dict[str, Any]) -> None:
    for doc in render(values):
        if doc["apiVersion"] not in NOT_IN_KUBERNETES_VALIDATE:
            kubernetes_validate.validate(doc, "1.33", strict=True)


def test_crds_toggles() -> None:
    assert find(render({"crds": {"enabled": False}}), "CustomResourceDefinition") == []
    crd = find(render({"crds": {"keep": False}}), "CustomResourceDefinition")[0]
    assert "annotations" not in crd["metadata"]
    crd = find(render(), "CustomResourceDefinition")[0]
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    _all_objects_valid({"crds": {"enabled": False}})


def test_database_password_is_never_generated() -> None:
    """A generated password changes on every `helm template`/GitOps sync and on a reinstall
    over a surviving volume: the chart asks for one (an existing Secret) instead."""
    import helm_python
    from helm_python import Chart

    with Chart.load(str(CHART)) as chart, pytest.raises(helm_python.HelmError) as info:
        chart.render({}, name="vidgen", namespace=NAMESPACE, is_install=True)
    assert "postgresql.existingSecret" in str(info.value)
    docs = render({"postgresql": {"existingSecret": "pg", "passwordKey": "pw"}})
    assert find(docs, "Secret", "vidgen-database") == []
    for doc in docs:
        assert "lookup" not in str(doc)
    text = (CHART / "templates" / "secrets.yaml").read_text()
    assert "keepRandom" not in text.split("{{- if .Values.postgresql.enabled }}", 1)[1]


def test_renders_are_reproducible_for_gitops() -> None:
    """`helm template` (Argo CD, Flux) renders twice the same: nothing random in the defaults."""
    from helm_python import Chart

    values = with_required(None)
    with Chart.load(str(CHART)) as chart:
        first = chart.render(values, name="vidgen", namespace=NAMESPACE, is_install=True)
        second = chart.render(values, name="vidgen", namespace=NAMESPACE, is_install=True)
    assert first == second
