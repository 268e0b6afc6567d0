"""Client keys: the public key (or JWKS URL) a client signs its token requests with."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from interop.schemas import InputModel

JWKS_URL = Field(default=None, max_length=2048, pattern=r"^https?://[^\s]+$")
PEM = Field(default=None, min_length=1, max_length=16384)


def exactly_one_of(*names: str) -> dict[str, Any]:
    """The schema's way of saying what the validator checks: one source of keys, not two."""
    return {"oneOf": [{"required": [name]} for name in names]}


class KeySource(BaseModel):
    """Where a party's public keys come from: a JWK, a PEM, or a JWKS URL."""

    jwk: dict[str, Any] | None = None
    pem: str | None = PEM
    jwks_url: str | None = JWKS_URL

    @model_validator(mode="after")
    def _one_source(self) -> "KeySource":
        given = [name for name in ("jwk", "pem", "jwks_url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of jwk, pem or jwks_url")
        return self


class ClientKeyIn(KeySource, InputModel):
    # Unknown fields are ignored, as on every create (SPEC §1): a key read back, with its id,
    # client_id, kid and created_at, may be sent again. There is no stored key to compare them
    # with, and the client is the one the path names.
    model_config = ConfigDict(
        strict=True, extra="allow", json_schema_extra=exactly_one_of("jwk", "pem", "jwks_url")
    )


class ClientKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: str
    kid: str | None = Field(description="The static key's kid; null for a JWKS URL.")
    jwks_url: str | None
    created_at: datetime
