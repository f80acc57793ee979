"""Where push deliveries may go, without connecting anywhere: the address rule
over every special range of IPv4 and IPv6 (first, last and a middle address
of each), public addresses allowed, URLs that are not https refused, and
names checked by every address they resolve to (a resolver given here)."""

from __future__ import annotations

import ipaddress

import pytest

from api.services.ssrf import Refused, check, refusal

REFUSED_RANGES = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]
METADATA = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::1"]


def addresses_of(network: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = ipaddress.ip_network(network)
    return [found[0], found[found.num_addresses // 2], found[-1]]


@pytest.mark.parametrize("network", REFUSED_RANGES)
def test_every_address_of_a_special_range_is_refused(network: str) -> None:
    for address in addresses_of(network):
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            expected = refusal(address.ipv4_mapped)
            assert refusal(address) == expected
            continue
        assert refusal(address) is not None, address


@pytest.mark.parametrize("text", METADATA)
def test_metadata_addresses_are_named(text: str) -> None:
    assert refusal(ipaddress.ip_address(text)) == "a cloud metadata address"


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_allowed(text: str) -> None:
    assert refusal(ipaddress.ip_address(text)) is None
    assert refusal(ipaddress.ip_address(f"::ffff:{text}")) is None if "." in text else True


def test_an_ipv4_mapped_private_address_is_refused() -> None:
    assert refusal(ipaddress.ip_address("::ffff:10.1.2.3")) == "a private address"
    assert refusal(ipaddress.ip_address("::ffff:127.0.0.1")) == "a loopback address"


def resolving(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError("no such name")
        return mapping[host]

    return resolve


async def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    resolver = resolving(
        {
            "public.example": ["93.184.216.34"],
            "mixed.example": ["93.184.216.34", "10.0.0.7"],
            "inside.example": ["fd12::1"],
            "metadata.example": ["169.254.169.254"],
        }
    )
    target = await check(
        "https://public.example/hook", allow_http=False, allow_private=False, resolver=resolver
    )
    assert (target.address, target.port, target.host) == ("93.184.216.34", 443, "public.example")
    for name in ("mixed", "inside", "metadata"):
        with pytest.raises(Refused, match="resolves to"):
            await check(
                f"https://{name}.example/", allow_http=False, allow_private=False, resolver=resolver
            )
    allowed = await check(
        "https://inside.example:8443/x", allow_http=False, allow_private=True, resolver=resolver
    )
    assert (allowed.address, allowed.port) == ("fd12::1", 8443)
    with pytest.raises(Refused, match="cannot be resolved"):
        await check(
            "https://nowhere.example/", allow_http=False, allow_private=False, resolver=resolver
        )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("ftp://93.184.216.34/", "https"),
        ("https://user:pw@93.184.216.34/", "user"),
        ("https:///nohost", "host"),
        ("https://127.0.0.1/", "loopback"),
        ("https://[::1]:8443/", "loopback"),
        ("https://[fe80::1]/", "link-local"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::ffff:192.168.1.1]/", "private"),
    ],
)
async def test_urls_that_may_not_be_delivered_to(url: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        await check(url, allow_http=False, allow_private=False, resolver=resolving({}))


async def test_plain_http_and_private_targets_only_when_allowed() -> None:
    target = await check(
        "http://127.0.0.1:9000/hook", allow_http=True, allow_private=True, resolver=resolving({})
    )
    assert (target.address, target.port) == ("127.0.0.1", 9000)
