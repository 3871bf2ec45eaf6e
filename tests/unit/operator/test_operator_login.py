"""kopf logs in with the same credentials as the kubernetes client, taken from the settings."""

from __future__ import annotations

from pathlib import Path

import kopf

from vidgen.core.settings import Settings
from vidgen.operator.handlers import login
from vidgen.operator.k8s import kube_configuration


async def test_login_from_a_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        """
apiVersion: v1
kind: Config
current-context: ctx
clusters:
  - name: c
    cluster: {server: "https://k8s.example:6443", insecure-skip-tls-verify: true}
users:
  - name: u
    user: {token: "s3cr3t"}
contexts:
  - name: ctx
    context: {cluster: c, user: u}
"""
    )
    settings = Settings(kubeconfig=str(config))
    info = await login(memo=kopf.Memo(settings=settings))
    assert (info.server, info.scheme, info.token, info.insecure) == (
        "https://k8s.example:6443",
        "Bearer",
        "s3cr3t",
        True,
    )
    assert kube_configuration(settings).host == "https://k8s.example:6443"


async def test_login_to_a_given_url() -> None:
    info = await login(memo=kopf.Memo(settings=Settings(kube_api_url="http://127.0.0.1:8001/")))
    assert (info.server, info.token, info.insecure) == ("http://127.0.0.1:8001", None, True)
