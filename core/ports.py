"""Ports: the small Protocols each outside system is reached through. Adapters are named for
their technology (file_storage, s3_storage, kie_provider, k8s_launcher, …) and live with the
process that uses them; tests swap in fakes, local mode swaps in processes."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from .models import GenerationSpec


@runtime_checkable
class Storage(Protocol):
    """Blob storage for photos, videos and checkpoints, addressed by key (`inputs/x.jpg`)."""

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def signed_url(self, key: str, expires_seconds: int = 3600) -> str | None:
        """A URL anyone can GET for a while, or None if the backend cannot make one."""
        ...


@runtime_checkable
class GenerationLauncher(Protocol):
    """Starts the lifecycle of a generation: creates the VideoGeneration (cluster mode) or hands
    it to the local controller (local mode). Must be idempotent on `spec.name`."""

    async def launch(self, spec: GenerationSpec) -> None: ...
