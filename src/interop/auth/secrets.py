"""Secret material: the server master key, new credentials, hashing and encryption at rest.

Account API secrets are hashed with a keyed SHA-256 (they are high-entropy, so a fast hash is
right, and they are never shown again). Actor secrets must be shown again, so they are
encrypted with a key derived from the master secret. Nothing here ever logs a secret.
"""

import base64
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from interop.config import Settings, master_secret_bytes

SECRET_FILE_NAME = "secret.key"  # noqa: S105 - a file name, not a secret


def new_secret() -> str:
    """256 bits from `secrets`, URL-safe: usable in Basic auth and form bodies as-is."""
    return secrets.token_urlsafe(32)


def new_client_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class SecretBox:
    """Derives purpose-bound keys from the master secret and applies them."""

    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise ValueError("the master secret must be at least 32 bytes")
        self._hash_key = _derive(master, b"interop/api-key-hash")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(master, b"interop/encryption")))
        # Listing 100 tenants decrypts 100 actor secrets: 15 % of the request, once per
        # process with this cache. It lives in memory only, like any secret being served.
        self.decrypt = functools.lru_cache(maxsize=20_000)(self._decrypt)  # type: ignore[method-assign]

    def hash_secret(self, secret: str) -> str:
        return hmac.new(self._hash_key, secret.encode(), hashlib.sha256).hexdigest()

    def secret_matches(self, secret: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash_secret(secret), stored_hash)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._decrypt(token)

    def opens(self, token: str) -> bool:
        """Whether `token` was encrypted with this master secret."""
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def _decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError(
                "stored secret cannot be decrypted: INTEROP_SECRET_KEY differs from the one "
                "that encrypted it"
            ) from exc


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def load_master_secret(settings: Settings) -> bytes:
    """The configured master secret, else the data directory's, created on first use."""
    if settings.secret_key:
        return master_secret_bytes(settings.secret_key)  # checked as the settings were read
    path = master_secret_file(settings)
    if not path.exists():
        _create_secret_file(path)
    try:
        return master_secret_bytes(path.read_text().strip())
    except ValueError as exc:
        raise ValueError(f"the master secret in {path} {exc}") from None


def master_secret_file(settings: Settings) -> Path:
    """Where the master secret lives when INTEROP_SECRET_KEY is not set."""
    return settings.ensure_data_dir() / SECRET_FILE_NAME


def _create_secret_file(path: Path) -> None:
    encoded = base64.urlsafe_b64encode(os.urandom(32)).decode()
    try:
        # O_EXCL: two processes starting at once must not both write (and disagree on) a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(encoded + "\n")
