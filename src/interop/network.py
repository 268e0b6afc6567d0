"""Outbound fetches of URLs that callers register (bundles, JWKS): kept off loopback and
private networks unless the operator allows it.

The address a fetch connects to is the very address that was checked. Checking a name and
then letting the HTTP client resolve it again would leave a window in which a DNS server
answering first with a public address and then with a private one (DNS rebinding) gets the
request into the private network. So the name is resolved once, every address it has must
pass, and the request goes to the first of them by IP, with the original name in the `Host`
header and, for https, in the TLS server name (SNI and certificate check).
"""

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class PrivateAddress(Exception):
    """The host has an address outside what the fetch may reach."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} is a private or loopback address")


class UnresolvableHost(Exception):
    """The host name does not resolve."""


def is_public(address: IPAddress) -> bool:
    return address.is_global


def checked_address(host: str, port: int, allowed: Callable[[IPAddress], bool]) -> str:
    """The address to connect to for `host`, once every address it resolves to is allowed.
    Raises PrivateAddress or UnresolvableHost."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {host}: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(allowed(ipaddress.ip_address(a)) for a in addresses):
        raise PrivateAddress(host)
    return addresses[0]


@contextmanager
def stream_get(
    url: str,
    *,
    timeout: float,
    allow_private: bool,
    allowed: Callable[[IPAddress], bool] = is_public,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[httpx.Response]:
    """GET `url` as a streamed response, never following a redirect (it could lead to an
    address the check refused). Unless `allow_private`, only from an address `allowed`
    accepts, connected to by the address checked. Raises PrivateAddress, UnresolvableHost or
    httpx.HTTPError."""
    target = httpx.URL(url)
    request_url, headers, extensions = target, {}, {}
    if not allow_private:
        port = target.port or DEFAULT_PORTS.get(target.scheme, 80)
        address = checked_address(target.host, port, allowed)
        request_url = target.copy_with(host=address)
        headers = {"Host": target.netloc.decode("ascii")}
        if target.scheme == "https":
            extensions = {"sni_hostname": target.host}
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=verify) as client:
        request = client.build_request("GET", request_url, headers=headers, extensions=extensions)
        response = client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()
