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


@pytest.fixture(scope="session")
def cluster() -> infra.Cluster:
    try:
        return infra.cluster()
    except infra.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def kube(cluster: infra.Cluster) -> Iterator[client.ApiClient]:
    api = kit.api_client(cluster.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def crd(kube: client.ApiClient) -> dict[str, object]:
    return kit.apply_crd(kube)
