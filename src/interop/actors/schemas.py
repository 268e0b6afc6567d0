"""Actor bodies, including the (ext) install request."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from interop.schemas import InputModel, JsonDateTime, JsonUUID, NonBlank


class ActorIntegration(BaseModel):
    id: uuid.UUID
    name: str
    version: str


class ActorCredentials(TypedDict):
    client_id: str
    client_secret: NotRequired[str]


class ActorSource(InputModel):
    kind: Literal["oneroster_csv"]
    location: NonBlank = Field(
        min_length=1,
        max_length=4096,
        description="A directory, a .zip file, a file:// URL or an http(s):// URL of a zip.",
    )


class ActorOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    cloud_id: uuid.UUID
    name: str
    type: Literal["connector", "integration", "repository", "application"]
    integration: ActorIntegration | None
    tenant_id: uuid.UUID | None
    credentials: ActorCredentials
    source: dict[str, Any] | None = Field(description="(ext) A connector's data source.")
    created_at: datetime
    updated_at: datetime
    version: int


class IntegrationRef(InputModel):
    # The install refuses a reference that names neither (400); the schema says so too.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("id", "name")
            ]
        }
    )

    id: JsonUUID | None = None
    name: NonBlank | None = Field(default=None, min_length=1, max_length=64)
    version: NonBlank | None = Field(
        default=None, min_length=1, max_length=64, description="Default: the newest installable."
    )


class LicenseTerms(InputModel):
    valid_to: JsonDateTime | None = Field(
        default=None,
        description="When the license ends: after the install, which is its valid_from. "
        "Omitted: it does not end.",
    )


class IntegrationInstall(InputModel):
    type: Literal["integration"]
    integration: IntegrationRef
    name: NonBlank | None = Field(default=None, min_length=1, max_length=255)
    license: LicenseTerms | None = None


class ConnectorInstall(InputModel):
    type: Literal["connector"]
    name: NonBlank = Field(min_length=1, max_length=255)
    source: ActorSource


ActorInstall = Annotated[IntegrationInstall | ConnectorInstall, Field(discriminator="type")]
