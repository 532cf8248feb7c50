"""The outbound network guard: webhooks reach public addresses only.

A user-supplied URL must not reach internal services (SSRF). The guard judges
every address a host name resolves to, and IP literals in URLs, and refuses
loopback, private, link-local (169.254.169.254 and other metadata services
included), carrier-grade NAT, multicast, reserved and unspecified addresses,
IPv6 unique-local, link-local and site-local ones, and IPv4 addresses wrapped
in IPv6 (mapped, NAT64, 6to4, Teredo). The webhook client connects to exactly
the addresses judged here (``consumers.webhook.client``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from consumers.webhook.codes import E_BLOCKED_TARGET
from streamjobs.errors import FatalError

IPAddress = IPv4Address | IPv6Address

_FLAG_CHECKS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link-local", lambda a: a.is_link_local),
    # CPython 3.11 calls IPv6 multicast (ff0e::/16) global: check it first.
    ("multicast", lambda a: a.is_multicast),
    ("private", lambda a: a.is_private),
    ("reserved", lambda a: a.is_reserved),
    ("site-local", lambda a: isinstance(a, IPv6Address) and a.is_site_local),
)

# Ranges the standard library's flags miss on some Python versions, or that
# hide an address we cannot judge.
_REFUSED_NETWORKS: tuple[tuple[str, IPv4Network | IPv6Network], ...] = (
    ("carrier-grade NAT", IPv4Network("100.64.0.0/10")),
    # Oracle Cloud's metadata service is 192.0.0.192; CPython 3.11 calls it global.
    ("IETF protocol assignment", IPv4Network("192.0.0.0/24")),
    # Azure's host-internal platform endpoint sits in a public range.
    ("cloud platform", IPv4Network("168.63.129.16/32")),
    ("Teredo", IPv6Network("2001::/32")),
    ("local-use NAT64", IPv6Network("64:ff9b:1::/48")),
)

_NAT64 = IPv6Network("64:ff9b::/96")


class BlockedTargetError(FatalError):
    """The guard refused a target; no packet was sent to it.

    Args:
        host: the host name or IP literal of the URL.
        address: the refused address.
        reason: the kind of address, such as ``loopback``.
    """

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        where = str(address) if host == str(address) else f"{host} ({address})"
        super().__init__(f"network guard refused {where}: {reason} address", code=E_BLOCKED_TARGET)
        self.address = address
        self.reason = reason


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public target, or None when it is one.

    An IPv6 address that carries an IPv4 address is judged by that address,
    since a connection to it reaches that IPv4 host.
    """
    inner = embedded_ipv4(address)
    if inner is not None:
        return refusal_reason(inner)
    for reason, applies in _FLAG_CHECKS:
        if applies(address):
            return reason
    for reason, network in _REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    return None if address.is_global else "non-global"


def check_address(host: str, address: str) -> None:
    """Raise ``BlockedTargetError`` unless ``address`` (text) is public.

    Args:
        host: the name it was resolved from, for the message.
        address: an IPv4 or IPv6 address, optionally with a ``%scope``.
    """
    parsed = ip_address(address)
    reason = refusal_reason(parsed)
    if reason is not None:
        raise BlockedTargetError(host, parsed, reason)


def canonical_address(host: str) -> IPAddress | None:
    """The address ``host`` stands for when it is numeric; None for a name.

    Reads every IPv4 form ``inet_aton`` or a browser (WHATWG URL) takes: one
    to four parts, each decimal, octal (leading ``0``) or hex (``0x``), the
    last filling the remaining bytes (``2130706433``, ``0177.0.0.1``,
    ``127.1``, ``0``, ``0x7f.1``), a trailing dot allowed; and IPv6, with or
    without brackets and scope, mapped forms included.

    Raises:
        ValueError: ``host`` ends in a number but is no valid address (a
            browser refuses such a URL too).
    """
    bare = host.strip("[]")
    if ":" in bare:
        return ip_address(bare)
    parts = bare.removesuffix(".").split(".")
    if not _is_number(parts[-1]):
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    last_bits = 8 * (5 - len(numbers))
    if numbers[-1] >= 1 << last_bits:
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value |= number << (24 - 8 * index)
    return IPv4Address(value)


def _is_number(part: str) -> bool:
    lowered = part.lower()
    if lowered.startswith("0x"):
        return all(c in "0123456789abcdef" for c in lowered[2:])
    return part.isascii() and part.isdigit()


def _ipv4_part(part: str) -> int:
    lowered = part.lower()
    if lowered.startswith("0x"):
        digits, base = lowered[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits and base == 16:
        return 0
    # Bounded: a part longer than this overflows every form anyway.
    try:
        if not digits or len(digits) > 12 or not digits.isascii():
            raise ValueError(part)
        return int(digits, base)
    except ValueError:
        raise ValueError(f"{part!r} is not a number of an IPv4 address") from None


def check_literal_host(host: str) -> IPAddress | None:
    """Judge ``host`` when it is numeric; return the address to connect to.

    aiohttp never passes IP literals to the resolver, and which hosts it takes
    for literals depends on its version: the client connects to the address
    returned here instead of the host as written. A name (None) is judged
    when the resolver looks it up.

    Raises:
        BlockedTargetError: the address is not public.
        ValueError: the host ends in a number but is no valid address.
    """
    address = canonical_address(host)
    if address is not None:
        reason = refusal_reason(address)
        if reason is not None:
            raise BlockedTargetError(host, address, reason)
    return address


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """Refuse ``host`` unless every address it resolved to is public.

    Refusing the whole host (not only its bad addresses) keeps a name that
    mixes public and internal answers from ever reaching the internal one.

    Raises:
        BlockedTargetError: one of the addresses is not public.
    """
    for address in addresses:
        check_address(host, address)
