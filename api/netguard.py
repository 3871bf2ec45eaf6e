"""Outgoing URLs a caller chooses (webhook endpoints, photo URLs): http(s) only, and never to a
loopback or private address unless allowed (loopback: local mode and tests; private:
`api_allow_private_webhooks`), nor ever to a link-local, multicast or unspecified one — the name
is resolved and every address it resolves to is checked (again at send time)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    """The URL may not be used; the message says why (for the problem document)."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_loopback: bool = False  # this machine (local mode, tests)
    allow_private: bool = False  # RFC 1918, ULA, CGNAT… (receivers inside a cluster network)

    def permits(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            return self.allow_loopback
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            return False  # cloud metadata (169.254.169.254) and the like: never
        if address.is_private or address.is_reserved or not address.is_global:
            return self.allow_private
        return True


def check_shape(url: str, max_length: int = 2048) -> tuple[str, int]:
    """(host, port) of an absolute http(s) URL, or UrlRefused."""
    if len(url) > max_length:
        raise UrlRefused(f"longer than {max_length} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are accepted")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are not accepted")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, policy: UrlPolicy) -> None:
    """UrlRefused unless `url` is http(s) and every address its host resolves to is permitted."""
    host, port = check_shape(url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise UrlRefused(f"cannot resolve {host}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not policy.permits(address):
            raise UrlRefused(f"{host} resolves to {address}, a private or internal address")
