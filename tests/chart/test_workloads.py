"""What the pods get: hardening, resources, settings and secrets, bot modes, operator peering,
storage, the in-chart PostgreSQL vs an external database, Metabase."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.render import ALL_ON, ALL_ON_BUILTIN, CHART, container, env_of, find, one, pod_specs, render

CASES = {"defaults": None, "all-on": ALL_ON, "all-on-builtin": ALL_ON_BUILTIN}


@pytest.mark.parametrize("case", list(CASES))
def test_every_pod_is_hardened(case: str) -> None:
    specs = list(pod_specs(render(CASES[case])))
    assert len(specs) >= 3
    for where, spec in specs:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, where
        assert pod_sc["runAsUser"] > 0, where
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        mounts_tmp = False
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (where, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (where, c["name"])
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], (
                where,
                c["name"],
            )
            mounts_tmp |= any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", []))
        # A writable /tmp on an emptyDir (the root filesystem is read-only).
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert mounts_tmp and tmp and "emptyDir" in tmp[0], where


def test_operator_deployment() -> None:
    docs = render()
    deploy = one(docs, "Deployment", "vidgen-operator")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    c = container(docs, "Deployment", "vidgen-operator", "operator")
    assert c["args"] == ["operator", "--namespace=vidgen", "--standalone"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 9090, "health": 8080}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = env_of(c)
    assert env["VIDGEN_RUNNER_IMAGE"] == "ghcr.io/vidgen/runner:0.1.0"
    assert env["VIDGEN_RUNNER_SECRET_NAME"] == "vidgen-runner"
    assert env["VIDGEN_RUNNER_CPU_REQUEST"] == "100m"
    assert env["VIDGEN_RUNNER_MEMORY_REQUEST"] == "256Mi"
    assert env["VIDGEN_RUNNER_MEMORY_LIMIT"] == "1Gi"
    assert env["VIDGEN_JOB_ACTIVE_DEADLINE_SECONDS"] == "1200"
    assert env["VIDGEN_JOB_TTL_SECONDS"] == "3600"
    assert env["VIDGEN_METRICS_PORT"] == "9090"
    assert env["VIDGEN_HEALTH_PORT"] == "8080"
    assert env["VIDGEN_STORAGE_PVC"] == "vidgen-storage"
    assert env["VIDGEN_RUNNER_STORAGE_MOUNT_PATH"] == "/data"
    assert env["VIDGEN_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert c["envFrom"] == [{"configMapRef": {"name": "vidgen-config"}}]
    # kopf's peering CRD and object only exist with several replicas.
    assert find(docs, "CustomResourceDefinition", "kopfpeerings.kopf.dev") == []
    assert find(docs, "KopfPeering") == []


def test_runner_job_settings_are_passed_through() -> None:
    docs = render(
        {
            "image": {"registry": "registry.example.com/v", "tag": "1.2.3"},
            "runner": {
                "cpuRequest": "250m",
                "memoryRequest": "512Mi",
                "memoryLimit": "2Gi",
                "activeDeadlineSeconds": 600,
                "ttlSecondsAfterFinished": 60,
            },
        }
    )
    env = env_of(container(docs, "Deployment", "vidgen-operator", "operator"))
    assert env["VIDGEN_RUNNER_IMAGE"] == "registry.example.com/v/runner:1.2.3"
    assert (env["VIDGEN_RUNNER_CPU_REQUEST"], env["VIDGEN_RUNNER_MEMORY_REQUEST"]) == ("250m", "512Mi")
    assert env["VIDGEN_RUNNER_MEMORY_LIMIT"] == "2Gi"
    assert (env["VIDGEN_JOB_ACTIVE_DEADLINE_SECONDS"], env["VIDGEN_JOB_TTL_SECONDS"]) == ("600", "60")
    # One image (Dockerfile.bot) for the bot and the operator.
    assert container(docs, "Deployment", "vidgen-operator", "operator")["image"] == (
        "registry.example.com/v/bot:1.2.3"
    )


def test_operator_peering_with_several_replicas() -> None:
    docs = render(ALL_ON)
    deploy = one(docs, "Deployment", "vidgen-operator")
    assert deploy["spec"]["replicas"] == 2
    assert "strategy" not in deploy["spec"]  # rolling: the peers hand over
    c = container(docs, "Deployment", "vidgen-operator", "operator")
    assert c["args"] == ["operator", "--namespace=vidgen"]  # peering is on unless --standalone
    assert env_of(c)["VIDGEN_PEERING_NAME"] == "vidgen-operator"
    crd = one(docs, "CustomResourceDefinition", "kopfpeerings.kopf.dev")
    assert crd["spec"]["scope"] == "Namespaced"
    peering = one(docs, "KopfPeering", "vidgen-operator")
    assert peering["metadata"]["namespace"] == "vidgen"
    # Without the CRD (installed elsewhere) the object is still there, the CRD is not.
    docs = render({"operator": {"replicas": 3, "peering": {"createCRD": False}}})
    assert find(docs, "CustomResourceDefinition", "kopfpeerings.kopf.dev") == []
    assert find(docs, "KopfPeering", "vidgen-operator")


def test_bot_polling_runs_exactly_one_pod() -> None:
    docs = render({"bot": {"replicas": 5}})
    deploy = one(docs, "Deployment", "vidgen-bot")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    c = container(docs, "Deployment", "vidgen-bot", "bot")
    assert c["args"] == ["bot"]
    assert env_of(c)["VIDGEN_BOT_MODE"] == "polling"
    assert "VIDGEN_WEBHOOK_URL" not in env_of(c)
    assert find(docs, "Service", "vidgen-bot") == [] and find(docs, "Ingress") == []


def test_bot_webhook_has_service_ingress_and_replicas() -> None:
    docs = render(ALL_ON)
    deploy = one(docs, "Deployment", "vidgen-bot")
    assert deploy["spec"]["replicas"] == 3 and "strategy" not in deploy["spec"]
    env = env_of(container(docs, "Deployment", "vidgen-bot", "bot"))
    assert env["VIDGEN_BOT_MODE"] == "webhook"
    assert env["VIDGEN_WEBHOOK_URL"] == "https://bot.example.com/webhook"
    assert env["VIDGEN_WEBHOOK_PATH"] == "/webhook"
    assert env["VIDGEN_WEBHOOK_PORT"] == "8080"
    assert env["VIDGEN_REDIS_URL"] == "redis://redis:6379/0"
    assert env["VIDGEN_WEBHOOK_SECRET"] == {"secretKeyRef": {"name": "tg", "key": "hook"}}
    bot = container(docs, "Deployment", "vidgen-bot", "bot")
    assert [p["name"] for p in bot["ports"]] == ["webhook"]
    assert bot["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "webhook"}
    assert bot["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "webhook"}
    metrics = one(docs, "Service", "vidgen-bot-metrics")
    assert metrics["spec"]["ports"][0]["targetPort"] == "webhook"
    service = one(docs, "Service", "vidgen-bot")
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 80, "targetPort": "webhook", "protocol": "TCP"}
    ]
    ingress = one(docs, "Ingress", "vidgen-bot")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "bot.example.com"
    assert rule["http"]["paths"][0]["path"] == "/webhook"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "vidgen-bot"
    assert ingress["spec"]["tls"] == [{"hosts": ["bot.example.com"], "secretName": "bot-tls"}]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bot": {"mode": "webhook"}}, "needs bot.webhook.url"),
        (
            {"bot": {"mode": "webhook", "replicas": 2, "webhook": {"url": "https://b.example.com/w"}}},
            "needs bot.redisUrl",
        ),
        ({"postgresql": {"enabled": False}}, "no database"),
        ({"storage": {"url": "file:///elsewhere"}}, "must point at storage.persistence.mountPath"),
        (
            {"storage": {"url": "s3://b/p", "s3": {"existingSecret": "s3"}}},
            "set secrets.runnerExistingSecret too",
        ),
    ],
)
def test_inconsistent_values_fail_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    from helm_python import HelmError

    with pytest.raises(HelmError, match=message):
        render(values)


def test_settings_configmap() -> None:
    docs = render(ALL_ON)
    data = one(docs, "ConfigMap", "vidgen-config")["data"]
    assert data["VIDGEN_ADMIN_IDS"] == "1001,1002"
    assert data["VIDGEN_STORAGE_URL"] == "s3://videos/vidgen"
    assert data["VIDGEN_S3_ENDPOINT_URL"] == "https://s3.example.com"
    assert data["VIDGEN_TELEGRAM_API_URL"] == "http://telegram-bot-api:8081"
    assert data["VIDGEN_RETRY_BASE_DELAY_SECONDS"] == "30"
    assert all(key.startswith("VIDGEN_") for key in data)
    assert all(isinstance(value, str) for value in data.values())


def test_configmap_keys_are_real_settings() -> None:
    """Every VIDGEN_* variable the chart sets names a field of vidgen.core.settings.Settings."""
    from vidgen.core.settings import Settings

    fields = {f"VIDGEN_{name.upper()}" for name in Settings.model_fields}
    for values in (None, ALL_ON, ALL_ON_BUILTIN):
        docs = render(values)
        names = set(one(docs, "ConfigMap", "vidgen-config")["data"])
        for _, spec in pod_specs(docs):
            for c in spec.get("initContainers", []) + spec["containers"]:
                names |= {e["name"] for e in c.get("env", []) if e["name"].startswith("VIDGEN_")}
        runner = find(docs, "Secret", "vidgen-runner")
        if runner:
            names |= set(runner[0]["stringData"])
        assert names - fields == set(), names - fields


def test_chart_made_secrets() -> None:
    docs = render(ALL_ON_BUILTIN)
    secrets = one(docs, "Secret", "vidgen-secrets")["stringData"]
    assert secrets == {"telegram-token": "123:abc", "webhook-secret": "hook-secret"}
    runner = one(docs, "Secret", "vidgen-runner")["stringData"]
    assert runner == {"VIDGEN_KIE_API_KEY": "kie-key", "VIDGEN_OPENAI_API_KEY": "sk-test"}
    # The password given as a value: the chart's Secret holds it, the URL is made by the kubelet.
    assert one(docs, "Secret", "vidgen-database")["stringData"] == {"postgres-password": "pg-pass"}
    env = env_of(container(docs, "Deployment", "vidgen-operator", "operator"))
    assert env["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "vidgen-database", "key": "postgres-password"}
    }
    assert env["VIDGEN_DATABASE_URL"] == (
        "postgresql+psycopg://vidgen:$(POSTGRES_PASSWORD)@vidgen-postgresql:5432/vidgen"
    )
    assert env["VIDGEN_TELEGRAM_TOKEN"] == {
        "secretKeyRef": {"name": "vidgen-secrets", "key": "telegram-token"}
    }
    # No key given: the runner Secret is empty, so the runner uses the sandbox provider.
    assert one(render(), "Secret", "vidgen-runner")["stringData"] == {}


def test_existing_secrets_are_referenced_not_copied() -> None:
    docs = render(ALL_ON)
    assert find(docs, "Secret", "vidgen-secrets") == []
    assert find(docs, "Secret", "vidgen-runner") == []
    assert find(docs, "Secret", "vidgen-database") == []
    for name in ("vidgen-operator", "vidgen-bot"):
        env = env_of(container(docs, "Deployment", name, name.removeprefix("vidgen-")))
        assert env["VIDGEN_TELEGRAM_TOKEN"] == {"secretKeyRef": {"name": "tg", "key": "token"}}
        assert env["VIDGEN_DATABASE_URL"] == {"secretKeyRef": {"name": "db", "key": "url"}}
        assert env["VIDGEN_S3_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "s3", "key": "s3-access-key-id"}}
        assert env["VIDGEN_S3_SECRET_ACCESS_KEY"] == {
            "secretKeyRef": {"name": "s3", "key": "s3-secret-access-key"}
        }
    operator_env = env_of(container(docs, "Deployment", "vidgen-operator", "operator"))
    assert operator_env["VIDGEN_RUNNER_SECRET_NAME"] == "runner-credentials"
    # S3 storage: no volume, no PVC for the runner.
    assert "VIDGEN_STORAGE_PVC" not in operator_env
    assert find(docs, "PersistentVolumeClaim") == []


def test_external_database_url_goes_into_a_secret() -> None:
    url = "postgresql+psycopg://vidgen:pw@db.example.com:5432/vidgen"
    docs = render({"postgresql": {"enabled": False}, "externalDatabase": {"url": url}})
    assert one(docs, "Secret", "vidgen-secrets")["stringData"]["database-url"] == url
    assert find(docs, "StatefulSet") == []
    env = env_of(container(docs, "Deployment", "vidgen-bot", "bot"))
    assert env["VIDGEN_DATABASE_URL"] == {"secretKeyRef": {"name": "vidgen-secrets", "key": "database-url"}}


def test_migrations_run_before_the_operator_and_the_bot() -> None:
    docs = render()
    for name, image in (("vidgen-operator", "bot"), ("vidgen-bot", "bot")):
        spec = one(docs, "Deployment", name)["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        assert init["args"] == ["migrate"] and init["image"].endswith(f"/{image}:0.1.0")
        assert "VIDGEN_DATABASE_URL" in env_of(init)
    spec = one(render({"migrations": {"enabled": False}}), "Deployment", "vidgen-operator")["spec"]
    assert "initContainers" not in spec["template"]["spec"]


def test_storage_volume_is_shared_by_operator_bot_and_runner() -> None:
    docs = render()
    pvc = one(docs, "PersistentVolumeClaim", "vidgen-storage")
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    for name in ("vidgen-operator", "vidgen-bot"):
        spec = one(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert {"name": "storage", "persistentVolumeClaim": {"claimName": "vidgen-storage"}} in spec[
            "volumes"
        ]
        assert {"name": "storage", "mountPath": "/data"} in spec["containers"][0]["volumeMounts"]
    docs = render({"storage": {"persistence": {"existingClaim": "shared-videos"}}})
    assert find(docs, "PersistentVolumeClaim") == []
    env = env_of(container(docs, "Deployment", "vidgen-operator", "operator"))
    assert env["VIDGEN_STORAGE_PVC"] == "shared-videos"


def test_postgresql_statefulset() -> None:
    docs = render()
    sts = one(docs, "StatefulSet", "vidgen-postgresql")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "docker.io/library/postgres:16.6-bookworm"
    assert env_of(c)["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "vidgen-postgresql", "key": "postgres-password"}
    }
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert one(docs, "Service", "vidgen-postgresql")["spec"]["ports"][0]["port"] == 5432


def test_metabase_and_its_provisioning_job() -> None:
    docs = render(ALL_ON_BUILTIN)
    one(docs, "Deployment", "vidgen-metabase")
    one(docs, "Service", "vidgen-metabase")
    assert one(docs, "Secret", "vidgen-metabase")["stringData"] == {"metabase-admin-password": "mb-pass"}
    job = one(docs, "Job", "vidgen-metabase-provision-1")
    c = job["spec"]["template"]["spec"]["containers"][0]
    # The runner image has httpx (the analytics extra's dependency); its entry point is replaced.
    assert c["image"] == "ghcr.io/vidgen/runner:0.1.0" and c["command"] == ["vidgen"]
    assert c["args"] == ["analytics", "provision", "--metabase-url=http://vidgen-metabase:3000"]
    env = env_of(c)
    assert env["VIDGEN_METABASE_USER"] == "admin@example.com"
    assert env["VIDGEN_METABASE_PASSWORD"] == {
        "secretKeyRef": {"name": "vidgen-metabase", "key": "metabase-admin-password"}
    }
    assert "VIDGEN_DATABASE_URL" in env
    # First the setup script (admin + database on a fresh Metabase), from the chart's file.
    (init,) = job["spec"]["template"]["spec"]["initContainers"]
    assert init["command"] == ["python", "/setup/metabase-setup.py"]
    assert env_of(init)["VIDGEN_METABASE_URL"] == "http://vidgen-metabase:3000"
    script = one(docs, "ConfigMap", "vidgen-metabase-setup")["data"]["metabase-setup.py"]
    assert script == (CHART / "files" / "metabase-setup.py").read_text().rstrip("\n")
    assert find(render(), "Deployment", "vidgen-metabase") == []


def test_pod_disruption_budgets_and_network_policies() -> None:
    docs = render(ALL_ON_BUILTIN)
    assert one(docs, "PodDisruptionBudget", "vidgen-operator")["spec"]["minAvailable"] == 1
    assert one(docs, "PodDisruptionBudget", "vidgen-bot")["spec"]["minAvailable"] == 2
    policies = {d["metadata"]["name"]: d["spec"] for d in find(docs, "NetworkPolicy")}
    assert set(policies) == {
        "vidgen-operator",
        "vidgen-bot",
        "vidgen-runner",
        "vidgen-postgresql",
        "vidgen-metabase",
        "vidgen-api",
    }
    assert policies["vidgen-runner"] == {
        "podSelector": {"matchExpressions": [{"key": "vidgen.io/generation", "operator": "Exists"}]},
        "policyTypes": ["Ingress"],
    }
    (metrics_rule,) = policies["vidgen-operator"]["ingress"]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics_rule["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    # Webhook mode: one port, open (Telegram via the Ingress; /metrics is served there too).
    assert policies["vidgen-bot"]["ingress"] == [{"ports": [{"port": "webhook", "protocol": "TCP"}]}]
    polling = {
        d["metadata"]["name"]: d["spec"]
        for d in find(render({"networkPolicy": {"enabled": True}}), "NetworkPolicy")
    }
    (rule,) = polling["vidgen-bot"]["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}] and "from" in rule
    assert find(render(), "NetworkPolicy") == [] and find(render(), "PodDisruptionBudget") == []


def test_monitoring_objects_are_gated() -> None:
    assert not find(render(), "ServiceMonitor") and not find(render(), "PrometheusRule")
    docs = render(ALL_ON)
    monitors = {d["metadata"]["name"]: d for d in find(docs, "ServiceMonitor")}
    assert set(monitors) == {"vidgen-operator", "vidgen-bot", "vidgen-api"}
    assert monitors["vidgen-operator"]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The services carry the label the ServiceMonitor names the job after.
    service = one(docs, "Service", "vidgen-operator-metrics")
    assert service["metadata"]["labels"]["vidgen.io/metrics-job"] == "vidgen-operator"
    assert monitors["vidgen-operator"]["spec"]["jobLabel"] == "vidgen.io/metrics-job"
    dashboard = one(docs, "ConfigMap", "vidgen-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "vidgen"}


def test_webhook_secret_is_generated_when_not_given() -> None:
    docs = render(
        {"bot": {"mode": "webhook", "replicas": 1, "webhook": {"url": "https://b.example.com/webhook"}}}
    )
    secret = one(docs, "Secret", "vidgen-secrets")["stringData"]["webhook-secret"]
    assert len(secret) == 32 and secret.isalnum()
    env = env_of(container(docs, "Deployment", "vidgen-bot", "bot"))
    assert env["VIDGEN_WEBHOOK_SECRET"] == {
        "secretKeyRef": {"name": "vidgen-secrets", "key": "webhook-secret"}
    }
    # Polling needs none.
    assert one(render(), "Secret", "vidgen-secrets")["stringData"]["webhook-secret"] == ""


def test_host_network_puts_operator_bot_and_runner_on_the_node() -> None:
    """hostNetwork.enabled: for clusters without a pod network (the test cluster): the pods on
    the node's network, the API server's address as the node sees it, the runner Jobs too."""
    values = {"hostNetwork": {"enabled": True, "apiServerHost": "127.0.0.1", "apiServerPort": "17443"}}
    docs = render(values)
    for name in ("vidgen-operator", "vidgen-bot"):
        spec = one(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
        env = env_of(container(docs, "Deployment", name, name.removeprefix("vidgen-")))
        assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1" and env["KUBERNETES_SERVICE_PORT"] == "17443"
    operator_env = env_of(container(docs, "Deployment", "vidgen-operator", "operator"))
    assert operator_env["VIDGEN_RUNNER_HOST_NETWORK"] == "true"
    for _, spec in pod_specs(render()):
        assert "hostNetwork" not in spec
    assert "KUBERNETES_SERVICE_HOST" not in env_of(
        container(render(), "Deployment", "vidgen-operator", "operator")
    )
