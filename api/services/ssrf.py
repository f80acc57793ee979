"""Where push deliveries may go: the URL must be https (http only when allowed),
and every address its host resolves to must be a public one, unless private
targets are allowed. `refusal` is the pure rule over one address; `check`
resolves a URL's host (through a resolver that can be replaced) and gives
the address to connect to, so a delivery connects to the address checked and
never resolves the name a second time (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlsplit

import msgspec

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Host and port -> the addresses it resolves to (as texts)."""

METADATA: Final = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_SPECIAL_V4: Final = tuple(
    ipaddress.ip_network(text)
    for text in ("0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4")
)


class Refused(Exception):
    """A delivery URL that may not be used, and why."""


class Target(msgspec.Struct, frozen=True):
    """Where a delivery goes: the URL, and the address checked for its host."""

    url: str
    host: str
    port: int
    address: str


def refusal(address: Address) -> str | None:
    """Why a delivery may not go to `address` (None: it may): loopback,
    private, link-local, shared (CGNAT), unique-local, multicast,
    unspecified, reserved, documentation or cloud metadata addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    if address in METADATA:
        return "a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a shared address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for refused, why in checks:
        if refused:
            return why
    if isinstance(address, ipaddress.IPv4Address) and any(address in n for n in _SPECIAL_V4):
        return "a special-purpose address"
    return None


def check_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """The URL's host and port; Refused for a URL that cannot be a target."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_http):
        raise Refused(
            "must be an https URL (plain http only with INVTRACK_SUBSCRIPTION_ALLOW_HTTP=1)"
        )
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise Refused("must name a host, without user, password or fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def system_resolver(host: str, port: int) -> list[str]:
    import asyncio

    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def check(
    url: str,
    *,
    allow_http: bool,
    allow_private: bool,
    resolver: Resolver = system_resolver,
) -> Target:
    """The target of a delivery URL: its host resolved, every address checked
    (one refused address refuses the URL), the first to connect to."""
    host, port = check_url(url, allow_http=allow_http)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    try:
        texts = [str(literal)] if literal is not None else await resolver(host, port)
    except (OSError, UnicodeError) as error:
        raise Refused(f"{host} cannot be resolved ({error})") from None
    if not texts:
        raise Refused(f"{host} resolves to no address")
    for text in texts:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = refusal(address)
        if why is not None and not allow_private:
            shown = host if literal is not None else f"{host} resolves to {address}, which"
            raise Refused(
                f"{shown} is {why} (allowed only with INVTRACK_SUBSCRIPTION_ALLOW_PRIVATE=1)"
            )
    return Target(url=url, host=host, port=port, address=texts[0])
