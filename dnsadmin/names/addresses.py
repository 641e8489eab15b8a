"""Addresses as operators write them: ``ADDR[:PORT]`` server specs and CIDR allow-lists."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

DEFAULT_PORT = 53

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split ``ADDR``, ``ADDR:PORT``, ``[IPV6]:PORT`` or a bare IPv6 address into both parts.

    The address comes back in its canonical text form. Raise ValueError, naming the text,
    unless ADDR is an IP address and PORT a port number (1 to 65535).
    """
    text = text.strip()
    address, port_text = text, ""
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not [IPv6]:PORT")
        port_text = rest[1:] if rest else str(default_port)
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
    else:
        port_text = str(default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r} has no valid port")
    try:
        return str(ipaddress.ip_address(address)), int(port_text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (with an optional port)") from None


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDRs (a bare address is its own network); a ValueError names the bad entry."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def allowed(client: str, allow: Iterable[Network]) -> bool:
    """Tell whether the client's address (an IPv6 zone index ``%eth0`` aside) is in a network."""
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in network for network in allow)
