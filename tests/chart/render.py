"""Rendering the Helm chart offline (helm-python-sdk) and picking objects out of the result."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vidgen"
RELEASE = "vidgen"
NAMESPACE = "vidgen"

#: Every optional part of the chart turned on (webhook bot with Ingress, peering, monitoring,
#: network policies, Metabase, S3 storage with existing Secrets, external database).
ALL_ON: dict[str, Any] = {
    "global": {"imagePullSecrets": [{"name": "regcred"}], "commonLabels": {"team": "video"}},
    "crds": {"enabled": True, "keep": True},
    "config": {
        "adminIds": [1001, 1002],
        "openaiBaseUrl": "https://openai.example.com/v1",
        "telegramApiUrl": "http://telegram-bot-api:8081",
        "extra": {"RETRY_BASE_DELAY_SECONDS": "30"},
    },
    "secrets": {
        "telegram": {"existingSecret": "tg", "tokenKey": "token", "webhookSecretKey": "hook"},
        "runnerExistingSecret": "runner-credentials",
    },
    "postgresql": {"enabled": False},
    "externalDatabase": {"existingSecret": "db", "urlKey": "url"},
    "storage": {
        "url": "s3://videos/vidgen",
        "s3": {"endpointUrl": "https://s3.example.com", "existingSecret": "s3"},
        "persistence": {"enabled": False},
    },
    "operator": {
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "extraEnv": [{"name": "VIDGEN_RESYNC_INTERVAL_SECONDS", "value": "15"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "vidgen", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"example.com/a": "b"},
        "podLabels": {"example.com/l": "v"},
        "serviceAccount": {"annotations": {"iam.example.com/role": "operator"}},
    },
    "bot": {
        "mode": "webhook",
        "replicas": 3,
        "webhook": {"url": "https://bot.example.com/webhook"},
        "redisUrl": "redis://redis:6379/0",
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            "host": "bot.example.com",
            "tlsSecretName": "bot-tls",
        },
        "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
    },
    "api": {
        "enabled": True,
        "replicas": 2,
        "publicUrl": "https://api.example.com",
        "existingSecret": "api-links",
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "api.example.com",
            "tlsSecretName": "api-tls",
        },
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    },
    "networkPolicy": {
        "enabled": True,
        "metricsNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    },
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "grafanaDashboard": {"enabled": True, "folder": "vidgen"},
    },
    "metabase": {"enabled": True},
}

#: ALL_ON, but with the in-chart PostgreSQL, volume storage and chart-made Secrets (the other
#: side of each either/or).
ALL_ON_BUILTIN: dict[str, Any] = {
    **copy.deepcopy(ALL_ON),
    "secrets": {
        "telegram": {"token": "123:abc", "webhookSecret": "hook-secret"},
        "kie": {"apiKey": "kie-key"},
        "openai": {"apiKey": "sk-test"},
        "runnerExistingSecret": "",
    },
    "postgresql": {"enabled": True, "password": "pg-pass", "persistence": {"enabled": False}},
    "externalDatabase": {"existingSecret": ""},
    "storage": {"url": "file:///data", "persistence": {"enabled": True}},
    "metabase": {"enabled": True, "provisioning": {"adminPassword": "mb-pass"}},
    "api": {**copy.deepcopy(ALL_ON["api"]), "existingSecret": "", "linkSecret": "links-key"},
}


#: What every install must give (the chart generates no database password): added to the values
#: of every render below unless they name the password themselves.
REQUIRED: dict[str, Any] = {"postgresql": {"existingSecret": "vidgen-postgresql"}}


def with_required(values: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(values or {})
    pg = out.setdefault("postgresql", {})
    if not pg.get("password") and not pg.get("existingSecret"):
        pg["existingSecret"] = REQUIRED["postgresql"]["existingSecret"]
    return out


def _freeze(values: dict[str, Any] | None) -> str:
    return json.dumps(with_required(values), sort_keys=True)


@functools.lru_cache(maxsize=32)
def _render(frozen: str, namespace: str) -> tuple[tuple[str, str], ...]:
    from helm_python import Chart

    with Chart.load(str(CHART)) as chart:
        out = chart.render(json.loads(frozen), name=RELEASE, namespace=namespace, is_install=True)
    return tuple(sorted(out.items()))


def render_files(values: dict[str, Any] | None = None, namespace: str = NAMESPACE) -> dict[str, str]:
    """{template path: rendered text} (cached per values)."""
    return dict(_render(_freeze(values), namespace))


def render(values: dict[str, Any] | None = None, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Every rendered object (NOTES.txt and empty documents left out)."""
    docs: list[dict[str, Any]] = []
    for path, text in render_files(values, namespace).items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, (
        f"{kind}/{name}: {len(found)} found among {[(d['kind'], d['metadata']['name']) for d in docs]}"
    )
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload."""
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            yield f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name → value (a string) or valueFrom (a dict)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def container(docs: list[dict[str, Any]], kind: str, name: str, container_name: str) -> dict[str, Any]:
    spec = one(docs, kind, name)["spec"]["template"]["spec"]
    for c in spec["containers"]:
        if c["name"] == container_name:
            return dict(c)
    raise AssertionError(f"{kind}/{name} has no container {container_name}")
