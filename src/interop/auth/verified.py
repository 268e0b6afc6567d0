"""Access tokens this process has already verified, so that a client sending the same token
request after request pays for the ES256 signature check once, not on every request."""

import threading
import time
from typing import Any

# Distinct tokens remembered (oldest forgotten first): a token and its claims take about 1 KB.
MAX_TOKENS = 4096


class VerifiedTokens:
    """Claims of tokens whose signature, audience and issuer checked out, by exact token.

    Only the very same string hits (any change to a token is a miss, and is verified in full).
    A hit still needs an unexpired `exp` and a signing key that is still published; whether
    the token's credentials still exist is checked per request by the caller, as for a miss.
    """

    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        self._max_tokens = max_tokens
        self._claims: dict[str, tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def remember(self, token: str, kid: str, claims: dict[str, Any]) -> None:
        with self._lock:
            if len(self._claims) >= self._max_tokens:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = (kid, claims)

    def recall(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """(kid, claims) of a remembered token that has not expired."""
        entry = self._claims.get(token)
        if entry is None:
            return None
        # As PyJWT decides it (no leeway): valid while now < exp.
        if entry[1]["exp"] <= time.time():
            self.forget(token)
            return None
        return entry

    def forget(self, token: str) -> None:
        with self._lock:
            self._claims.pop(token, None)

    def __len__(self) -> int:
        return len(self._claims)
