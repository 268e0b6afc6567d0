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
import time
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


class BodyRefused(Exception):
    """A response body that cannot be read within the fetch's limits."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


# IPv6 addresses that carry an IPv4 one (NAT64, 6to4, the deprecated IPv4-compatible form),
# which Python 3.11 calls global whatever the IPv4 address is, and site-local ones.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in SITE_LOCAL:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return embedded.is_global
    return address.is_global


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or int(address) >> 32 == 0:  # 64:ff9b::a.b.c.d, ::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


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
    # No compression: a small compressed body can unpack to gigabytes before any limit on
    # what is read sees it (httpx unpacks each chunk whole). `limited_body` refuses one.
    request_url, headers, extensions = target, {"Accept-Encoding": "identity"}, {}
    if not allow_private:
        port = target.port or DEFAULT_PORTS.get(target.scheme, 80)
        address = checked_address(target.host, port, allowed)
        request_url = target.copy_with(host=address)
        headers["Host"] = target.netloc.decode("ascii")
        if target.scheme == "https":
            extensions = {"sni_hostname": target.host}
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=verify) as client:
        request = client.build_request("GET", request_url, headers=headers, extensions=extensions)
        response = client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()


def limited_body(response: httpx.Response, max_bytes: int, seconds: float) -> Iterator[bytes]:
    """The body as it arrives, as sent. Raises BodyRefused once it passes `max_bytes`
    (`too_large`), once `seconds` have passed since the call (httpx's timeout applies to each
    read, so a server sending a byte a second would hold the fetch forever), or when the
    server compressed it anyway."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BodyRefused(f"the response is {encoding}-encoded; it must be sent as it is")
    deadline = time.monotonic() + seconds
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise BodyRefused(f"the response exceeds {max_bytes} bytes", too_large=True)
        if time.monotonic() > deadline:
            raise BodyRefused(f"the response took longer than {seconds:g} s")
        yield chunk
