"""Outbound fetches of registered URLs (bundles, JWKS) connect to the address they checked:
real HTTP and HTTPS servers on this machine, reached by the name `localhost`."""

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from interop.network import PrivateAddress, UnresolvableHost, is_public, shown_url, stream_get


def is_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_loopback


# A response head sent a byte at a time: it takes about 10 s to arrive, and every byte comes well
# within any read timeout.
SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n{}"
SLOW_HEAD_PAUSE = 0.1


class Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []
    hung_up_early = threading.Event()

    def do_GET(self) -> None:
        Recorder.seen.append(self.headers["Host"])
        if self.path == "/slow-head":
            try:
                for byte in SLOW_HEAD:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(SLOW_HEAD_PAUSE)
            except OSError:
                Recorder.hung_up_early.set()
            return
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()
            return
        body = b'{"keys": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class DualStackServer(ThreadingHTTPServer):
    """Listens wherever `localhost` may resolve: IPv6 and IPv4 loopback both."""

    address_family = socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[int]:
    Recorder.seen = []
    Recorder.hung_up_early = threading.Event()
    host = "::" if DualStackServer.address_family == socket.AF_INET6 else "127.0.0.1"
    server = DualStackServer((host, 0), Recorder)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_port() -> Iterator[int]:
    yield from _serve()


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a self-signed certificate of `name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_the_request_goes_to_the_checked_address_with_the_name_as_host(http_port: int) -> None:
    url = f"http://localhost:{http_port}/jwks"
    with stream_get(
        url, timeout=5, seconds=5, allow_private=False, allowed=is_loopback
    ) as response:
        assert response.status_code == 200
        assert response.read() == b'{"keys": []}'
        # Sent to an address, not to the name: nothing resolves it a second time.
        assert ipaddress.ip_address(response.request.url.host).is_loopback
    assert Recorder.seen == [f"localhost:{http_port}"]


def test_a_name_with_a_refused_address_is_never_contacted(http_port: int) -> None:
    with (
        pytest.raises(PrivateAddress, match="localhost is a private or loopback address"),
        stream_get(f"http://localhost:{http_port}/", timeout=5, seconds=5, allow_private=False),
    ):
        pass
    assert Recorder.seen == []


def test_allowing_private_networks_connects_by_name(http_port: int) -> None:
    url = f"http://localhost:{http_port}/"
    with stream_get(url, timeout=5, seconds=5, allow_private=True, allowed=is_public) as response:
        assert response.status_code == 200
        assert response.request.url.host == "localhost"


def test_a_redirect_is_returned_not_followed(http_port: int) -> None:
    url = f"http://localhost:{http_port}/moved"
    with stream_get(
        url, timeout=5, seconds=5, allow_private=False, allowed=is_loopback
    ) as response:
        assert response.status_code == 302
    assert len(Recorder.seen) == 1


def test_a_name_that_does_not_resolve_is_its_own_error() -> None:
    with (
        pytest.raises(UnresolvableHost, match=r"no-such-host\.invalid"),
        stream_get("http://no-such-host.invalid/", timeout=5, seconds=5, allow_private=False),
    ):
        pass


@pytest.mark.parametrize(("certified", "accepted"), [("localhost", True), ("other.test", False)])
def test_https_checks_the_certificate_against_the_name_not_the_address(
    tmp_path: Path, certified: str, accepted: bool
) -> None:
    server_tls, client_tls = _certificate(tmp_path, certified)
    for port in _serve(server_tls):
        url = f"https://localhost:{port}/jwks"
        if accepted:
            with stream_get(
                url,
                timeout=5,
                seconds=5,
                allow_private=False,
                allowed=is_loopback,
                verify=client_tls,
            ) as response:
                assert response.status_code == 200
            assert Recorder.seen == [f"localhost:{port}"]
        else:
            with (
                pytest.raises(httpx.ConnectError, match="certificate"),
                stream_get(
                    url,
                    timeout=5,
                    seconds=5,
                    allow_private=False,
                    allowed=is_loopback,
                    verify=client_tls,
                ),
            ):
                pass
            assert Recorder.seen == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_response_head_that_drips_ends_the_fetch_at_its_time_limit(
    tmp_path: Path, scheme: str
) -> None:
    # httpx's timeout applies to each read: a head sent a byte every 2 s held a worker for
    # hours. Under TLS the socket the deadline cuts is the one TLS took over.
    server_tls, client_tls = _certificate(tmp_path, "localhost")
    for port in _serve(server_tls if scheme == "https" else None):
        with (
            pytest.raises(httpx.TimeoutException, match="no complete response within 1 s"),
            stream_get(
                f"{scheme}://localhost:{port}/slow-head",
                timeout=5,
                seconds=1,
                allow_private=False,
                allowed=is_loopback,
                verify=client_tls,
            ),
        ):
            pass
        assert Recorder.seen == [f"localhost:{port}"]
        assert Recorder.hung_up_early.wait(5)  # the client left long before the server was done


def test_a_fetch_with_no_time_left_connects_to_nothing(http_port: int) -> None:
    with (
        pytest.raises(httpx.TimeoutException),
        stream_get(
            f"http://localhost:{http_port}/",
            timeout=5,
            seconds=0,
            allow_private=False,
            allowed=is_loopback,
        ),
    ):
        pass
    assert Recorder.seen == []


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible (deprecated): Python 3.11 calls it global
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "fec0::1",  # site-local (deprecated)
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215), whatever it embeds
        "::ffff:169.254.169.254",  # IPv4-mapped link-local
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pa55w0rd@host:8443/export.zip", "https://host:8443/export.zip"),
        ("https://user:pa@55w0rd@host/export.zip", "https://host/export.zip"),
        (
            "https://host/export.zip?X-Amz-Signature=abc&X-Amz-Expires=60",
            "https://host/export.zip?…",
        ),
        ("https://host/export.zip#token=abc", "https://host/export.zip"),
        ("https://host/export.zip", "https://host/export.zip"),
        ("http://user:pa55w0rd@[", "…"),
    ],
)
def test_a_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert shown_url(url) == shown
