"""What the API needs beyond core's ports: cancelling a generation (deleting the VideoGeneration
in a cluster, whose finalizer refunds it; the local controller's cancel in local mode)."""

from __future__ import annotations

from typing import Protocol


class GenerationCanceller(Protocol):
    async def cancel(self, name: str) -> None:
        """Cancel `name` (idempotent; a generation already gone is not an error)."""
        ...
