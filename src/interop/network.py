"""Outbound fetches of URLs that callers register (bundles, JWKS): kept off loopback and
private networks unless the operator allows it.

The address a fetch connects to is the very address that was checked. Checking a name and
then letting the HTTP client resolve it again would leave a window in which a DNS server
answering first with a public address and then with a private one (DNS rebinding) gets the
request into the private network. So the name is resolved once, every address it has must
pass, and the request goes to the first of them by IP, with the original name in the `Host`
header and, for https, in the TLS server name (SNI and certificate check).
"""

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
# RFC 8215's NAT64 prefix for a network's own use (not globally reachable, in IANA's
# registry), which Python 3.11 calls global: it leads wherever the local gateway maps it.
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in SITE_LOCAL or address in LOCAL_NAT64:
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


def shown_url(url: str) -> str:
    """`url` as a message or a log line may show it: without the user name and password it
    may carry, nor its query (`https://user:password@host/export.zip`, a presigned URL's
    `?X-Amz-Signature=…`). Those are the credentials of whoever registered the URL, and a
    connector's errors are read by the tenant's integration, a JWKS's by anyone who sends an
    assertion naming the client."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced IPv6 bracket: nothing worth showing
        return "…"
    host = parts.netloc.rpartition("@")[2]
    query = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + query


class _Deadline:
    """Cuts a fetch's connection once its time is up, whatever the fetch is waiting for.

    httpx's timeouts bound each read, not the request: a server sending its response headers
    a byte every 2 s held the fetch (a worker, or a request thread for a JWKS) for hours.
    httpcore reports the socket it connects through its `trace` extension; at the deadline a
    timer shuts that socket down, which ends a read blocked on it at once. A duplicate of the
    socket is kept: shutting it down ends the connection too, and it stays valid when TLS
    takes the original over."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.passed = False
        self._ends_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(seconds, 0.0), self._cut)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def seconds_left(self) -> float:
        return self._ends_at - time.monotonic()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        duplicate = info["return_value"].get_extra_info("socket").dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self.passed:  # connected just as the time ran out
                _shut(duplicate)

    def _cut(self) -> None:
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                _shut(sock)

    def exceeded(self) -> httpx.TimeoutException:
        return httpx.TimeoutException(f"no complete response within {max(self.seconds, 0):g} s")


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the connection has closed meanwhile
        sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def stream_get(
    url: str,
    *,
    timeout: float,
    seconds: float,
    allow_private: bool,
    allowed: Callable[[IPAddress], bool] = is_public,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[httpx.Response]:
    """GET `url` as a streamed response, never following a redirect (it could lead to an
    address the check refused). Each read may wait `timeout`; the whole request, from the
    connection to the body's last byte as the caller reads it, `seconds`. Unless
    `allow_private`, only from an address `allowed` accepts, connected to by the address
    checked. Raises PrivateAddress, UnresolvableHost or httpx.HTTPError
    (httpx.TimeoutException once `seconds` have passed)."""
    target = httpx.URL(url)
    # No compression: a small compressed body can unpack to gigabytes before any limit on
    # what is read sees it (httpx unpacks each chunk whole). `limited_body` refuses one.
    request_url, headers = target, {"Accept-Encoding": "identity"}
    extensions: dict[str, Any] = {}
    if not allow_private:
        port = target.port or DEFAULT_PORTS.get(target.scheme, 80)
        address = checked_address(target.host, port, allowed)
        request_url = target.copy_with(host=address)
        headers["Host"] = target.netloc.decode("ascii")
        if target.scheme == "https":
            extensions = {"sni_hostname": target.host}
    with _Deadline(seconds) as deadline:
        if deadline.seconds_left() <= 0:
            raise deadline.exceeded()
        # No socket yet for the deadline to cut: the connection gets what time is left.
        timeouts = httpx.Timeout(timeout, connect=min(timeout, deadline.seconds_left()))
        extensions["trace"] = deadline.trace
        try:
            with httpx.Client(timeout=timeouts, follow_redirects=False, verify=verify) as client:
                request = client.build_request(
                    "GET", request_url, headers=headers, extensions=extensions
                )
                response = client.send(request, stream=True)
                try:
                    yield response
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            if deadline.passed:  # the cut connection's error, or a connect that took it all
                raise deadline.exceeded() from exc
            raise


def limited_body(response: httpx.Response, max_bytes: int) -> Iterator[bytes]:
    """The body as it arrives, as sent. Raises BodyRefused once it passes `max_bytes`
    (`too_large`), or when the server compressed it anyway. (How long it may take is
    `stream_get`'s to bound.)"""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise BodyRefused(f"the response is {encoding}-encoded; it must be sent as it is")
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise BodyRefused(f"the response exceeds {max_bytes} bytes", too_large=True)
        yield chunk
