"""LTI 1.3 platform registrations (ext)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from interop.clientkeys.schemas import KeySource, exactly_one_of
from interop.schemas import NonBlank


class LtiPlatformIn(KeySource):
    model_config = ConfigDict(
        strict=True, extra="forbid", json_schema_extra=exactly_one_of("jwk", "pem", "jwks_url")
    )

    issuer: NonBlank = Field(min_length=1, max_length=512, description="The platform's `iss`.")
    client_id: NonBlank = Field(
        min_length=1, max_length=255, description="The client id the platform gave this tool."
    )
    deployment_ids: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Accepted deployment ids; empty accepts any deployment.",
    )


class LtiPlatformOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    issuer: str
    client_id: str
    deployment_ids: list[str]
    kid: str | None
    jwks_url: str | None
    created_at: datetime
