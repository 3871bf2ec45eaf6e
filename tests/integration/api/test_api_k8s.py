"""The API in a cluster: its requests become VideoGenerations that the CRD accepts (chat 0: no
Telegram chat), and DELETE deletes the object (the operator's finalizer refunds it), once."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import jsonschema
from kubernetes.client.exceptions import ApiException

from tests.integration.bot.test_bot_k8s_launcher import (
    NAME,
    NAMESPACE,
    RESOURCE,
    SPEC,
    crd_schema,
    launcher_for,
)
from vidgen.core.chatless import NO_CHAT
from vidgen.operator.k8s_launcher import manifest

API_SPEC = dataclasses.replace(SPEC, chat_id=NO_CHAT, status_message_id=None)


def test_an_api_request_validates_against_the_crd() -> None:
    jsonschema.validate(manifest(API_SPEC.validate(), NAMESPACE), crd_schema())


async def test_cancel_deletes_the_object_and_a_second_cancel_is_fine(kmock: Any) -> None:
    launcher = launcher_for(kmock)
    await launcher.launch(API_SPEC)
    assert kmock.objects[RESOURCE, NAMESPACE, NAME]["spec"]["chatId"] == NO_CHAT
    await launcher.cancel(NAME)
    # The object carries the operator's finalizer (so an unfinished one is refunded): the delete
    # marks it for deletion and the operator finishes it; without an operator it stays marked.
    try:
        body = await asyncio.to_thread(
            launcher.api.get_namespaced_custom_object,
            "vidgen.io",
            "v1alpha1",
            NAMESPACE,
            "videogenerations",
            NAME,
        )
    except ApiException as exc:  # in a thread: kmock serves on this loop
        assert exc.status == 404
    else:
        assert body["metadata"].get("deletionTimestamp")
    await launcher.cancel(NAME)  # already being deleted, or gone: not an error
    deletes = [r for r in kmock["delete"] if "videogenerations" in str(r.url)]
    assert len(deletes) == 2
