"""Outbound fetches of URLs that callers register (bundles, JWKS): the one check that keeps
them off loopback and private networks unless the operator allows it."""

import ipaddress
import socket


def resolves_to_private(host: str) -> bool:
    """True when any address of `host` is not globally routable. Raises OSError when the
    name does not resolve."""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    return any(not ipaddress.ip_address(str(address)).is_global for address in addresses)
