"""The other side of JWT authentication, for tests: a party's key pairs, the JWKS it publishes
from a real local HTTP server, and the JWTs it signs."""

import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from local_http import serving_http


@dataclass
class KeyPair:
    kid: str
    private: Any
    algorithm: str

    @classmethod
    def rsa(cls, kid: str | None = None) -> "KeyPair":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or uuid.uuid4().hex[:12], private, "RS256")

    @classmethod
    def ec(cls, kid: str | None = None) -> "KeyPair":
        return cls(kid or uuid.uuid4().hex[:12], ec.generate_private_key(ec.SECP256R1()), "ES256")

    @property
    def public_jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else ECAlgorithm.to_jwk
        found: dict[str, Any] = to_jwk(self.private.public_key(), as_dict=True)
        return {**found, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid}
        )


def assertion_claims(client_id: str, audience: str, **changes: Any) -> dict[str, Any]:
    """RFC 7523 client assertion claims, as LTI tools send them."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: a JWT with no signature at all."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def hmac_with_public_key(claims: dict[str, Any], key: KeyPair) -> str:
    """The algorithm-confusion attack: HS256 keyed with the party's public PEM."""
    signing_input = f"{_segment({'alg': 'HS256', 'kid': key.kid})}.{_segment(claims)}"
    digest = hmac.new(key.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class JwksServer:
    """A party's JWKS on a real local HTTP server: change `keys` to rotate. `/slow` answers
    after `delay` seconds, for timeouts; `fetches` counts the GETs of the JWKS, `requests`
    every GET. Hostile answers: `/drip` sends the JWKS a byte every 0.2 s, `/drip-head` its
    response head so (about 25 s; `hung_up_early` is set if the client leaves first), `/gzip`
    a gzip
    body that unpacks to 16 MB, `/nested` 100,000 nested arrays, `/missing` a 404."""

    url: str
    slow_url: str
    keys: list[KeyPair] = field(default_factory=list)
    delay: float = 5.0
    fetches: int = 0
    requests: int = 0
    hung_up_early: threading.Event = field(default_factory=threading.Event)

    def at(self, path: str) -> str:
        return self.url.removesuffix("/jwks.json") + path

    def document(self) -> bytes:
        self.fetches += 1
        return json.dumps({"keys": [key.public_jwk for key in self.keys]}).encode()


def _drip(handler: BaseHTTPRequestHandler, published: JwksServer) -> None:
    body = published.document()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for byte in body:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)


def _drip_head(handler: BaseHTTPRequestHandler, published: JwksServer) -> None:
    body = published.document()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nX-Pad: {'a' * 100}\r\n\r\n"
    try:
        for byte in head.encode():
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        published.hung_up_early.set()
        return
    handler.wfile.write(body)


def _gzip(handler: BaseHTTPRequestHandler, _published: JwksServer) -> None:
    body = gzip.compress(b'{"keys": [], "pad": "' + b" " * (16 * 1024 * 1024) + b'"}')
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _nested(handler: BaseHTTPRequestHandler, _published: JwksServer) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _missing(handler: BaseHTTPRequestHandler, _published: JwksServer) -> None:
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


HOSTILE = {
    "/drip": _drip,
    "/drip-head": _drip_head,
    "/gzip": _gzip,
    "/nested": _nested,
    "/missing": _missing,
}


@contextmanager
def jwks_server(*keys: KeyPair) -> Iterator[JwksServer]:
    state: list[JwksServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published = state[0]
            published.requests += 1
            if self.path in HOSTILE:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    HOSTILE[self.path](self, published)
                return
            if self.path == "/slow":
                time.sleep(published.delay)
            body = published.document()
            # The slow answer usually finds its caller gone (it timed out): that is the point.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    with serving_http(Handler) as base:
        state.append(JwksServer(f"{base}/jwks.json", f"{base}/slow", list(keys)))
        yield state[0]
