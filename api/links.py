"""Short-lived signed links to a finished video: the storage's own presigned URL when it can make
one (S3), else a link to the API's `/v1/videos/{id}` signed with HMAC-SHA256 over the id and the
expiry (`api_link_secret`), which needs no API key."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: int  # Unix seconds


class LinkSigner:
    def __init__(self, secret: bytes, ttl: int, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.ttl = ttl
        self.clock = clock

    def _sig(self, name: str, expires: int) -> str:
        return hmac.new(self.secret, f"{name}.{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, base_url: str, name: str) -> Link:
        expires = int(self.clock()) + self.ttl
        query = urlencode({"expires": expires, "signature": self._sig(name, expires)})
        return Link(f"{base_url.rstrip('/')}/v1/videos/{name}?{query}", expires)

    def valid(self, name: str, expires: int, signature: str) -> bool:
        if expires < self.clock():
            return False
        return hmac.compare_digest(self._sig(name, expires), signature)
