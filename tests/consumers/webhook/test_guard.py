"""The network guard: only public addresses are webhook targets."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from consumers.webhook.guard import (
    BlockedTargetError,
    canonical_address,
    check_addresses,
    check_literal_host,
    refusal_reason,
)

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",
    "0.0.0.0",
    "240.0.0.1",
    "192.0.0.192",  # Oracle Cloud metadata; "global" on CPython 3.11
    "::1",
    "::",
    "fc00::1",  # unique local
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fe80::1",
    "fec0::1",  # site-local; "global" on CPython 3.11
    "ff0e::1",  # multicast; "global" on CPython 3.11
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo hides its real address
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]

WRAPPED_LOOPBACK = ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:7f00:1"]
"""IPv4 loopback inside IPv6: mapped, NAT64, 6to4."""


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_address_is_refused(address: str) -> None:
    assert refusal_reason(ip_address(address)) is not None


@pytest.mark.parametrize("address", WRAPPED_LOOPBACK)
def test_ipv6_form_carrying_an_ipv4_address_is_judged_by_it(address: str) -> None:
    assert refusal_reason(ip_address(address)) == "loopback"


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:93.184.216.34"]
)
def test_public_address_is_allowed(address: str) -> None:
    assert refusal_reason(ip_address(address)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.169.254"])
def test_ip_literal_host_is_refused_as_a_blocked_target(host: str) -> None:
    with pytest.raises(BlockedTargetError) as refused:
        check_literal_host(host)

    assert refused.value.code == "E_BLOCKED_TARGET"


def test_host_name_is_left_to_the_resolver() -> None:
    check_literal_host("example.com")


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    with pytest.raises(BlockedTargetError) as refused:
        check_addresses("mixed.example", ["93.184.216.34", "10.0.0.7"])

    assert "mixed.example" in str(refused.value)
    assert refused.value.reason == "private"


def test_a_name_whose_addresses_are_all_public_passes() -> None:
    check_addresses("example.com", ["93.184.216.34", "2606:4700:4700::1111"])


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("134744072", "8.8.8.8"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ],
)
def test_every_numeric_spelling_of_a_host_is_read_as_its_address(host: str, address: str) -> None:
    assert canonical_address(host) == ip_address(address)


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1", "1.16777216", "08.0.0.1", "1." + "9" * 40])
def test_a_host_ending_in_a_number_that_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="IPv4"):
        canonical_address(host)


@pytest.mark.parametrize("host", ["example.com", "1e3.com", "api.0x7f.dev"])
def test_a_name_is_no_address(host: str) -> None:
    assert canonical_address(host) is None
