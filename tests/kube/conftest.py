"""The real-cluster tests (marker `kube`): one cluster for the session (tests/kube/infra.py),
skipped with one line where none can be had."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.kube import infra, kit


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/kube/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.kube)


def _cluster_or_none() -> infra.Cluster | None:
    try:
        return infra.cluster()
    except infra.Unavailable as exc:
        UNAVAILABLE.append(str(exc))
        return None


UNAVAILABLE: list[str] = []


def pytest_ignore_collect(collection_path: object, config: pytest.Config) -> bool | None:
    """No cluster here: the whole folder is left out, and said so in one line."""
    if str(collection_path).endswith(".py") and "tests/kube/test_" in str(collection_path).replace("\\", "/"):
        if _CLUSTER is None:
            return True
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if UNAVAILABLE:
        terminalreporter.write_line(
            f"SKIPPED tests/kube (the real-cluster tests): {UNAVAILABLE[0]}", yellow=True
        )


_CLUSTER = _cluster_or_none()


@pytest.fixture(scope="session")
def cluster() -> infra.Cluster:
    assert _CLUSTER is not None
    return _CLUSTER


@pytest.fixture(scope="session")
def kube(cluster: infra.Cluster) -> Iterator[client.ApiClient]:
    api = kit.api_client(cluster.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def crd(kube: client.ApiClient) -> dict[str, object]:
    return kit.apply_crd(kube)
