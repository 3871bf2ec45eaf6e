"""Least privilege, read from the rendered RBAC: exact verbs per resource, no wildcards, nothing
cluster-wide, and a runner with no rights and no token."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.chart.render import ALL_ON, ALL_ON_BUILTIN, find, one, render

OPERATOR_RULES = {
    ("vidgen.io", "videogenerations"): {"get", "list", "watch", "patch", "update"},
    ("vidgen.io", "videogenerations/status"): {"patch", "update"},
    ("vidgen.io", "videogenerations/finalizers"): {"update"},
    ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("", "configmaps"): {"get", "list", "watch", "create", "patch"},  # the admission loop's anchor
}
PEERING_RULES = {("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"}}
BOT_RULES = {("vidgen.io", "videogenerations"): {"create", "get"}}


def permissions(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) → verbs, refusing wildcards and resourceNames-free surprises."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {role['metadata']['name']}: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out[(group, resource)] |= set(rule["verbs"])
    return dict(out)


def bound_subjects(docs: list[dict[str, Any]], role_name: str) -> list[str]:
    subjects = []
    for binding in find(docs, "RoleBinding"):
        if binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name}:
            subjects += [f"{s['kind']}/{s['namespace']}/{s['name']}" for s in binding["subjects"]]
    return subjects


@pytest.mark.parametrize("values", [None, ALL_ON_BUILTIN, {"bot": {"enabled": True}}])
def test_no_cluster_wide_rights(values: dict[str, Any] | None) -> None:
    docs = render(values)
    assert find(docs, "ClusterRole") == [] and find(docs, "ClusterRoleBinding") == []


def test_operator_verbs_single_replica() -> None:
    docs = render()
    role = one(docs, "Role", "vidgen-operator")
    assert permissions(role) == OPERATOR_RULES
    assert bound_subjects(docs, "vidgen-operator") == ["ServiceAccount/vidgen/vidgen-operator"]


def test_operator_verbs_with_peering() -> None:
    docs = render(ALL_ON)  # operator.replicas = 2
    role = one(docs, "Role", "vidgen-operator")
    assert permissions(role) == OPERATOR_RULES | PEERING_RULES
    assert bound_subjects(docs, "vidgen-operator") == ["ServiceAccount/vidgen/vidgen-operator"]


@pytest.mark.parametrize("values", [None, ALL_ON])
def test_bot_may_only_create_and_get_videogenerations(values: dict[str, Any] | None) -> None:
    docs = render(values)
    assert permissions(one(docs, "Role", "vidgen-bot")) == BOT_RULES
    assert bound_subjects(docs, "vidgen-bot") == ["ServiceAccount/vidgen/vidgen-bot"]


def test_no_bot_no_bot_rights() -> None:
    docs = render({"bot": {"enabled": False}})
    assert find(docs, "Role", "vidgen-bot") == [] and find(docs, "ServiceAccount", "vidgen-bot") == []


@pytest.mark.parametrize("values", [None, ALL_ON, ALL_ON_BUILTIN])
def test_runner_has_no_rights_and_no_token(values: dict[str, Any] | None) -> None:
    docs = render(values)
    sa = one(docs, "ServiceAccount", "vidgen-runner")
    assert sa["automountServiceAccountToken"] is False
    # Pull secrets reach the runner Jobs through their ServiceAccount.
    assert sa.get("imagePullSecrets") == ((values or {}).get("global", {}).get("imagePullSecrets"))
    for binding in find(docs, "RoleBinding") + find(docs, "ClusterRoleBinding"):
        assert all(s["name"] != "vidgen-runner" for s in binding["subjects"]), binding["metadata"]["name"]
    # …and the operator creates the runner Jobs with exactly this account.
    env = {
        e["name"]: e.get("value")
        for e in one(docs, "Deployment", "vidgen-operator")["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert env["VIDGEN_RUNNER_SERVICE_ACCOUNT"] == "vidgen-runner"


@pytest.mark.parametrize("values", [None, ALL_ON, ALL_ON_BUILTIN])
def test_each_workload_uses_its_own_account(values: dict[str, Any] | None) -> None:
    docs = render(values)
    accounts = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"].get("serviceAccountName")
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    assert accounts["vidgen-operator"] == "vidgen-operator"
    assert accounts["vidgen-bot"] == "vidgen-bot"
    assert accounts.get("vidgen-api", "vidgen-api") == "vidgen-api"  # the HTTP API, when enabled
    # Everything else (PostgreSQL, Metabase, the provisioning Job) talks to no Kubernetes API.
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job") and d["metadata"]["name"] not in (
            "vidgen-operator",
            "vidgen-bot",
            "vidgen-api",
        ):
            spec = d["spec"]["template"]["spec"]
            assert spec.get("serviceAccountName") is None, d["metadata"]["name"]
            assert spec["automountServiceAccountToken"] is False, d["metadata"]["name"]
