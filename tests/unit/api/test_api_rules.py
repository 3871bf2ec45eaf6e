"""The API's pure rules: which outgoing addresses are refused, the per-key window, key shapes,
signed links, and the status a phase maps to."""

from __future__ import annotations

import ipaddress

import pytest

from vidgen.api.links import LinkSigner
from vidgen.api.netguard import UrlPolicy, UrlRefused, check_shape, check_url
from vidgen.api.ratelimit import RateLimiter
from vidgen.api.service import api_status, name_for
from vidgen.core.db.api_keys import hash_key, new_webhook_secret, split_key


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.3.4",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert not UrlPolicy().permits(ipaddress.ip_address(address))


def test_loopback_only_when_allowed_and_public_always() -> None:
    loop = UrlPolicy(allow_loopback=True)
    assert loop.permits(ipaddress.ip_address("127.0.0.1"))
    assert not loop.permits(ipaddress.ip_address("10.0.0.1"))
    private = UrlPolicy(allow_private=True)
    assert private.permits(ipaddress.ip_address("10.0.0.1"))
    assert not private.permits(ipaddress.ip_address("127.0.0.1"))
    assert not private.permits(ipaddress.ip_address("169.254.169.254"))  # metadata: never
    assert UrlPolicy().permits(ipaddress.ip_address("93.184.216.34"))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http:///nohost",
        "http://user:pw@example.com/",
        "x" * 3000,
    ],
)
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_shape(url)


async def test_a_literal_private_address_is_refused_without_resolving() -> None:
    with pytest.raises(UrlRefused, match="private"):
        await check_url("http://10.0.0.1:8080/hook", UrlPolicy())
    await check_url("http://127.0.0.1:9/hook", UrlPolicy(allow_loopback=True))


def test_the_window_admits_limit_requests_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, lambda: now[0])
    assert limiter.hit(1) is None and limiter.hit(1) is None
    assert limiter.hit(1) == 10.0
    assert limiter.hit(2) is None
    now[0] = 9.5
    assert limiter.hit(1) == pytest.approx(0.5)
    now[0] = 10.0
    assert limiter.hit(1) is None


def test_key_shapes_and_secrets() -> None:
    assert split_key("vgk_abc123_sec_ret-x") == "abc123"  # the secret may hold "_"
    assert split_key("vgk__x") is None and split_key("sk_abc_def") is None and split_key("") is None
    assert hash_key("a") != hash_key("b") and len(hash_key("a")) == 64
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and secret != new_webhook_secret()


def test_links_expire_and_are_bound_to_the_generation() -> None:
    now = [1000.0]
    signer = LinkSigner(b"k", 60, lambda: now[0])
    link = signer.sign("http://api", "vg-1-a")
    sig = link.url.split("signature=")[1]
    assert signer.valid("vg-1-a", link.expires_at, sig)
    assert not signer.valid("vg-1-b", link.expires_at, sig)
    assert not signer.valid("vg-1-a", link.expires_at + 1, sig)
    now[0] += 61
    assert not signer.valid("vg-1-a", link.expires_at, sig)


def test_status_and_names() -> None:
    assert [api_status(p, None) for p in ("Pending", "Queued", "Running", "Delivering", "Delivered")] == [
        "queued",
        "queued",
        "processing",
        "processing",
        "succeeded",
    ]
    assert api_status("Failed", "cancelled") == "cancelled" and api_status("Failed", "x") == "failed"
    assert name_for(5, "k") == name_for(5, "k") != name_for(6, "k")
    assert name_for(5, None) != name_for(5, None)
