"""The Kubernetes launcher against kmock's API emulator (real HTTP, the official client): the object
it creates validates against the CRD's schema, and launching twice creates one object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vidgen.core.models import GenerationSpec, generation_name, photo_key
from vidgen.core.settings import Settings
from vidgen.operator.k8s_launcher import KubernetesLauncher, load_api_client, manifest

CRD = Path(__file__).resolve().parents[3] / "crds" / "videogeneration.yaml"
RESOURCE = "vidgen.io/v1alpha1/videogenerations"
NAMESPACE = "vidgen"
NAME = generation_name(101, "0123456789abcdef")
SPEC = GenerationSpec(
    name=NAME,
    user_id=101,
    chat_id=101,
    photo=photo_key(NAME),
    prompt="a cat dancing in the rain",
    model="sora-2-image-to-video",
    aspect_ratio="portrait",
    duration_seconds=10,
    status_message_id=500,
    requested_at="2026-11-25T10:00:00Z",
    language="ru",
)


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return dict(version["schema"]["openAPIV3Schema"])


def launcher_for(kmock: Any) -> KubernetesLauncher:
    kmock.resources[RESOURCE] = {"kind": "VideoGeneration", "namespaced": True}
    configuration = client.Configuration()
    configuration.host = str(kmock.url).rstrip("/")
    return KubernetesLauncher(client.ApiClient(configuration), NAMESPACE, wait_seconds=0.01)


def posts(kmock: Any) -> list[Any]:
    return [r for r in kmock["post"] if "videogenerations" in str(r.url)]


async def test_creates_an_object_that_validates_against_the_crd(kmock: Any) -> None:
    launcher = launcher_for(kmock)
    await launcher.launch(SPEC)
    obj = kmock.objects[RESOURCE, NAMESPACE, NAME]
    raw = dict(obj.raw)
    jsonschema.validate(raw, crd_schema())
    assert raw["apiVersion"] == "vidgen.io/v1alpha1" and raw["kind"] == "VideoGeneration"
    assert raw["metadata"]["name"] == NAME and raw["metadata"]["labels"]["vidgen.io/user"] == "101"
    assert GenerationSpec.from_crd(NAME, raw["spec"]) == SPEC


async def test_launching_twice_creates_one_object(kmock: Any) -> None:
    launcher = launcher_for(kmock)
    await launcher.launch(SPEC)
    await launcher.launch(SPEC)  # 409 from the API: already launched
    assert len(posts(kmock)) == 2
    assert len(list(kmock.objects)) == 1
    assert kmock.objects[RESOURCE, NAMESPACE, NAME]["spec"]["statusMessageId"] == 500


async def test_a_lost_response_is_retried_and_still_one_object(kmock: Any) -> None:
    launcher = launcher_for(kmock)
    # The API server stores the object but the client sees a 503: the retry gets 409 → launched.
    kmock[f"post /apis/vidgen.io/v1alpha1/namespaces/{NAMESPACE}/videogenerations"][:1] << 503
    await launcher.launch(SPEC)
    assert len(posts(kmock)) == 2
    assert len(list(kmock.objects)) == 1


async def test_a_refused_object_is_an_error(kmock: Any) -> None:
    launcher = launcher_for(kmock)
    kmock[f"post /apis/vidgen.io/v1alpha1/namespaces/{NAMESPACE}/videogenerations"] << 422
    with pytest.raises(ApiException) as info:
        await launcher.launch(SPEC)
    assert info.value.status == 422
    assert len(posts(kmock)) == 1  # not retried: only transient errors are


def test_every_spec_the_bot_can_build_validates() -> None:
    schema = crd_schema()
    for model, aspect, duration in (("sora-2-image-to-video", "landscape", 15), ("veo3_fast", "portrait", 8)):
        spec = GenerationSpec(
            name=NAME,
            user_id=7,
            chat_id=-100123,
            photo=photo_key(NAME),
            prompt="x" * 1000,
            model=model,
            aspect_ratio=aspect,
            duration_seconds=duration,
        )
        jsonschema.validate(manifest(spec.validate(), NAMESPACE), schema)


def test_kubeconfig_is_used_outside_a_cluster(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://10.1.2.3:6443"}}],
                "users": [{"name": "u", "user": {"token": "abc"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    api = load_api_client(Settings(_env_file=None, kubeconfig=str(kubeconfig)))  # type: ignore[call-arg]
    assert api.configuration.host == "https://10.1.2.3:6443"
