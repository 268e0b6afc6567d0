"""LTI 1.3 platform registrations (ext)."""

import re
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from interop.clientkeys.schemas import KeySource, exactly_one_of
from interop.schemas import WHITESPACE_CLASS, InputModel, NonBlank

# LTI 1.3 takes the platform's issuer from OpenID Connect (Discovery §3): an https URL with
# no query or fragment. Anything else (http://, a bare name) is no LTI platform's iss, and
# an http issuer would let whoever answers that name in clear claim to be the platform.
ISSUER_PATTERN = f"^https://[^{WHITESPACE_CLASS}?#]+$"
_ISSUER = re.compile(ISSUER_PATTERN)


def _platform_issuer(value: str) -> str:
    try:
        host = urlsplit(value).hostname if _ISSUER.match(value) else None
    except ValueError:  # an unbalanced IPv6 bracket: "https://["
        host = None
    if not host:
        raise ValueError(
            "must be an https URL with a host and no query or fragment, as LTI 1.3 requires "
            "(e.g. https://canvas.instructure.com)"
        )
    return value


PlatformIssuer = Annotated[
    str, AfterValidator(_platform_issuer), Field(json_schema_extra={"pattern": ISSUER_PATTERN})
]


class LtiPlatformIn(KeySource, InputModel):
    model_config = ConfigDict(
        strict=True, extra="allow", json_schema_extra=exactly_one_of("jwk", "pem", "jwks_url")
    )

    issuer: PlatformIssuer = Field(
        max_length=512, description="The platform's `iss`: an https URL, no query or fragment."
    )
    client_id: NonBlank = Field(
        min_length=1, max_length=255, description="The client id the platform gave this tool."
    )
    # LTI 1.3 §3.1.3: a deployment id is 1-255 characters; a blank one names no deployment.
    deployment_ids: list[Annotated[NonBlank, Field(max_length=255)]] = Field(
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
