"""Public keys that other parties sign with: registered key material (a JWK or a PEM) and
JWKS URLs, fetched with a timeout and cached.

Only asymmetric algorithms are accepted, and a key only verifies the algorithms of its own
type, so neither `alg: none` nor an HMAC "signed" with a public key gets through.
"""

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from interop.network import (
    BodyRefused,
    PrivateAddress,
    UnresolvableHost,
    limited_body,
    shown_url,
    stream_get,
)

RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
ASYMMETRIC_ALGORITHMS = (*RSA_ALGORITHMS, *EC_ALGORITHMS.values(), "EdDSA")
# Members a public JWK must not carry: they are private key material.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638: the members a thumbprint hashes, per key type.
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
MAX_JWKS_BYTES = 256 * 1024
# However many unknown kids arrive, one JWKS URL is fetched at most this often.
MIN_REFRESH_SECONDS = 2.0


class KeyMaterialError(ValueError):
    """Registered key material that is not a usable public key."""


class JwksUnavailable(Exception):
    """A JWKS URL that could not be fetched or read."""


def public_jwk_from(jwk: Any = None, pem: str | None = None) -> dict[str, Any]:
    """A registered key as a public JWK with a `kid` (RFC 7638 thumbprint when absent)."""
    found = _jwk_from_pem(pem) if pem is not None else _checked_jwk(jwk)
    found.setdefault("kid", thumbprint(found))
    algorithms_for(found)  # refuses a key type or curve we cannot verify
    return found


def thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def algorithms_for(jwk: dict[str, Any]) -> list[str]:
    """The algorithms this key may verify: its declared `alg`, or those of its type."""
    kty = jwk.get("kty")
    if kty == "RSA":
        allowed = list(RSA_ALGORITHMS)
    elif kty == "EC" and jwk.get("crv") in EC_ALGORITHMS:
        allowed = [EC_ALGORITHMS[jwk["crv"]]]
    elif kty == "OKP" and jwk.get("crv") in ("Ed25519", "Ed448"):
        allowed = ["EdDSA"]
    else:
        raise KeyMaterialError(f"unsupported key type {kty!r} (RSA, EC P-256/384/521, OKP)")
    declared = jwk.get("alg")
    if declared is None:
        return allowed
    if declared not in allowed:
        raise KeyMaterialError(f"alg {declared!r} does not fit a {kty} key")
    return [declared]


def verification_key(jwk: dict[str, Any], algorithm: str) -> Any | None:
    """The key object that verifies `algorithm`, or None when this key may not."""
    try:
        if algorithm not in algorithms_for(jwk):
            return None
        return jwt.PyJWK(jwk, algorithm=algorithm).key
    except (KeyMaterialError, jwt.PyJWTError):
        return None


def decode_with_any(
    token: str, candidates: list[dict[str, Any]], algorithm: str, **checks: Any
) -> dict[str, Any]:
    """The claims of `token` verified by the first candidate key whose signature matches;
    claim errors (expired, wrong audience) of a matching key are raised as they are."""
    refused: jwt.PyJWTError = jwt.InvalidSignatureError("no registered key verifies it")
    for jwk in candidates:
        key = verification_key(jwk, algorithm)
        if key is None:
            refused = jwt.InvalidAlgorithmError(f"no registered key may verify {algorithm}")
            continue
        try:
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=[algorithm], **checks)
        except jwt.InvalidSignatureError as exc:
            refused = exc
            continue
        return claims
    raise refused


def check_jwks_url(url: str) -> str:
    try:
        parsed = urlparse(url)
        hostname = parsed.hostname
    except ValueError as exc:  # an unbalanced IPv6 bracket, say ("http://[")
        raise KeyMaterialError(f"jwks_url is not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not hostname:
        raise KeyMaterialError("jwks_url must be an http(s) URL")
    return url


def _checked_jwk(jwk: Any) -> dict[str, Any]:
    if not isinstance(jwk, dict):
        raise KeyMaterialError("jwk must be a JSON object")
    if PRIVATE_MEMBERS & jwk.keys():
        raise KeyMaterialError("jwk holds private key material; register the public key only")
    required = THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if required is None or any(not isinstance(jwk.get(name), str) for name in required):
        raise KeyMaterialError("jwk must be an RSA, EC or OKP public key with its members")
    if "kid" in jwk and (not isinstance(jwk["kid"], str) or not 0 < len(jwk["kid"]) <= 255):
        raise KeyMaterialError("jwk kid must be a string of 1 to 255 characters")
    try:
        jwt.PyJWK(jwk, algorithm=algorithms_for(jwk)[0])
    except jwt.PyJWTError as exc:
        raise KeyMaterialError(f"jwk is not a valid key: {exc}") from exc
    return dict(jwk)


def _jwk_from_pem(pem: str) -> dict[str, Any]:
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError("pem must be a PEM public key (-----BEGIN PUBLIC KEY-----)") from exc
    if isinstance(key, rsa.RSAPublicKey):
        found = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        found = ECAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        found = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        raise KeyMaterialError("pem holds a key type we cannot verify (RSA, EC, Ed25519)")
    return dict(found)


@dataclass
class _Fetched:
    at: float
    keys: list[dict[str, Any]]


class JwksCache:
    """JWKS documents by URL, kept for `ttl` seconds and fetched again when a token names a
    `kid` the cached set lacks (the owner rotated its keys), at most every few seconds.

    A URL is fetched by one thread at a time, the others waiting for its result, and a failed
    fetch is remembered as long: tokens naming a dead or slow URL (anyone can send them, no
    login needed) must not turn the server into a stream of requests at another host, or tie
    up every request thread on it."""

    def __init__(self, ttl: float, timeout: float, allow_private: bool) -> None:
        self._ttl = ttl
        self._timeout = timeout
        self._allow_private = allow_private
        self._lock = threading.Lock()
        self._entries: dict[str, _Fetched] = {}
        self._failures: dict[str, tuple[float, JwksUnavailable]] = {}
        self._fetching: dict[str, threading.Lock] = {}

    def keys(self, url: str, kid: str | None) -> list[dict[str, Any]]:
        """The keys of `url` that may have signed a token naming `kid` (all when no kid)."""
        entry = self._usable(url, kid) or self._refreshed(url, kid)
        return _matching(entry.keys, kid)

    def _usable(self, url: str, kid: str | None) -> _Fetched | None:
        """The cached entry, unless it is older than `ttl`, or lacks `kid` and may be fetched
        again."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        age = time.monotonic() - entry.at
        missing_kid = kid is not None and _matching(entry.keys, kid) == []
        if age > self._ttl or (missing_kid and age >= MIN_REFRESH_SECONDS):
            return None
        return entry

    def _refreshed(self, url: str, kid: str | None) -> _Fetched:
        with self._lock:
            fetching = self._fetching.setdefault(url, threading.Lock())
        with fetching:
            entry = self._usable(url, kid)
            if entry is not None:
                return entry  # fetched by the thread this one waited for
            failed = self._failures.get(url)
            if failed is not None and time.monotonic() - failed[0] < MIN_REFRESH_SECONDS:
                raise failed[1]
            try:
                entry = self._fetch(url)
            except JwksUnavailable as exc:
                self._failures[url] = (time.monotonic(), exc)
                raise
            self._failures.pop(url, None)
            self._entries[url] = entry
            return entry

    def _fetch(self, url: str) -> _Fetched:
        shown = shown_url(url)
        try:
            with stream_get(
                url,
                timeout=self._timeout,
                seconds=self._timeout,
                allow_private=self._allow_private,
            ) as r:
                if r.status_code != 200:
                    raise JwksUnavailable(f"GET {shown} answered {r.status_code}")
                content = b"".join(limited_body(r, MAX_JWKS_BYTES))
        except BodyRefused as exc:
            raise JwksUnavailable(f"the JWKS at {shown}: {exc}") from exc
        except (PrivateAddress, UnresolvableHost) as exc:
            raise JwksUnavailable(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise JwksUnavailable(f"GET {shown} timed out after {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"GET {shown} failed: {exc}") from exc
        return _Fetched(time.monotonic(), _usable_keys(content, shown))


def _usable_keys(content: bytes, shown: str) -> list[dict[str, Any]]:
    try:
        # orjson, not json: it refuses nesting deeper than 1024 where json raised
        # RecursionError (a 500) on a 240 KB document of brackets.
        document = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise JwksUnavailable(f"the JWKS at {shown} is not JSON: {exc}") from exc
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise JwksUnavailable(f"the JWKS at {shown} has no keys array")
    usable = []
    for key in keys:
        try:
            usable.append(_checked_jwk(key))
        except KeyMaterialError:
            continue  # one odd key (a symmetric one, a private one) does not spoil the set
    return usable


def _matching(keys: list[dict[str, Any]], kid: str | None) -> list[dict[str, Any]]:
    return keys if kid is None else [key for key in keys if key.get("kid") == kid]
