"""The HTTP API in the chart: off by default; on, a Deployment (probes, settings, the link key from
a Secret), a Service, an optional Ingress, least-privilege RBAC, a ServiceMonitor, a PDB and a
NetworkPolicy when those are on; the values schema refuses a typo under `api`."""

from __future__ import annotations

from tests.chart.render import ALL_ON, ALL_ON_BUILTIN, container, env_of, find, one, render
from tests.chart.test_rbac import permissions


def test_off_by_default() -> None:
    assert [d for d in render() if "api" in d["metadata"]["name"]] == []


def test_the_deployment_serves_the_api_with_probes_and_settings() -> None:
    docs = render({"api": {"enabled": True, "publicUrl": "https://api.example.com", "rateLimit": 30}})
    deployment = one(docs, "Deployment", "vidgen-api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "vidgen-api"
    assert [c["args"] for c in pod["initContainers"]] == [["migrate"]]
    api = container(docs, "Deployment", "vidgen-api", "api")
    assert api["args"] == ["api"] and api["image"].rsplit("/", 1)[-1].startswith("bot:")
    env = env_of(api)
    assert env["VIDGEN_API_PORT"] == "8000" and env["VIDGEN_API_RATE_LIMIT"] == "30"
    assert env["VIDGEN_API_PUBLIC_URL"] == "https://api.example.com"
    assert env["VIDGEN_API_LINK_SECRET"]["secretKeyRef"] == {"name": "vidgen-api", "key": "api-link-secret"}
    assert "VIDGEN_TELEGRAM_TOKEN" not in env  # the API does not need the bot's token
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    service = one(docs, "Service", "vidgen-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    secret = one(docs, "Secret", "vidgen-api")
    assert len(secret["stringData"]["api-link-secret"]) == 48
    assert find(docs, "Ingress", "vidgen-api") == []


def test_rbac_create_get_delete_videogenerations_only() -> None:
    docs = render({"api": {"enabled": True}})
    role = one(docs, "Role", "vidgen-api")
    assert permissions(role) == {("vidgen.io", "videogenerations"): {"create", "get", "delete"}}
    binding = one(docs, "RoleBinding", "vidgen-api")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vidgen-api", "namespace": "vidgen"}]


def test_all_on_ingress_existing_secret_monitoring_pdb_networkpolicy() -> None:
    docs = render(ALL_ON)
    ingress = one(docs, "Ingress", "vidgen-api")
    paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/v1", "/openapi.json", "/docs"}
    assert ingress["spec"]["tls"] == [{"hosts": ["api.example.com"], "secretName": "api-tls"}]
    env = env_of(container(docs, "Deployment", "vidgen-api", "api"))
    assert env["VIDGEN_API_LINK_SECRET"]["secretKeyRef"] == {"name": "api-links", "key": "api-link-secret"}
    assert find(docs, "Secret", "vidgen-api") == []  # an existing Secret is referenced, not made
    assert one(docs, "ServiceMonitor", "vidgen-api")["spec"]["endpoints"][0]["port"] == "http"
    assert one(docs, "PodDisruptionBudget", "vidgen-api")["spec"]["minAvailable"] == 1
    assert one(docs, "NetworkPolicy", "vidgen-api")["spec"]["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}]}
    ]
    assert one(docs, "Deployment", "vidgen-api")["spec"]["replicas"] == 2


def test_a_given_link_secret_is_used() -> None:
    docs = render(ALL_ON_BUILTIN)
    assert one(docs, "Secret", "vidgen-api")["stringData"]["api-link-secret"] == "links-key"
