"""The bot's `GenerationLauncher` in local mode: a confirmed request's row gets its status
(Pending) — what creating the VideoGeneration is in a cluster — and the local controller takes it
from there. Idempotent on the name, like the Kubernetes launcher (a replayed launch, or the outbox
sweeper's, changes nothing)."""

from __future__ import annotations

from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec

from .controller import LocalController

log = get_logger(__name__)


class LocalLauncher:
    def __init__(self, controller: LocalController) -> None:
        self.controller = controller

    async def launch(self, spec: GenerationSpec) -> None:
        created = await self.controller.store.launch(spec.name)
        log.info("launched" if created else "already launched", generation=spec.name)
        self.controller.poke(spec.name)
