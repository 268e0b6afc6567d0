"""Integration and integration-version bodies."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from interop.integrations.models import Integration, IntegrationVersion
from interop.schemas import InputModel, NonBlank

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ReleaseState = Literal["unspecified", "development", "beta", "released", "deprecated"]
IntegrationStatus = Literal["active", "inactive"]


class IntegrationOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    title: str
    version: str | None = Field(description="The newest released version, else the newest.")
    status: IntegrationStatus
    allow_beta: bool = Field(description="(ext) Others may install beta versions too.")
    revision: int = Field(description="Concurrency counter: the ETag and If-Match value.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, integration: Integration, current_version: str | None) -> "IntegrationOut":
        return cls(
            id=integration.id,
            account_id=integration.account_id,
            name=integration.name,
            title=integration.title,
            version=current_version,
            status=integration.status,
            allow_beta=integration.allow_beta,
            revision=integration.revision,
            created_at=integration.created_at,
            updated_at=integration.updated_at,
        )


class IntegrationCreate(InputModel):
    name: str = Field(pattern=NAME_PATTERN, description="Unique across the server.")
    title: NonBlank | None = Field(default=None, min_length=1, max_length=255)
    allow_beta: bool = False


class IntegrationUpdate(InputModel):
    title: NonBlank | None = Field(default=None, min_length=1, max_length=255)
    status: IntegrationStatus | None = None
    allow_beta: bool | None = None


class IntegrationVersionOut(BaseModel):
    id: uuid.UUID
    integration_id: uuid.UUID
    version: str
    title: str
    release_state: ReleaseState
    blueprint_sha256: str
    auth_type: str = Field(description="From the blueprint's <Application><Authentication>.")
    revision: int = Field(description="Concurrency counter: the ETag and If-Match value.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, version: IntegrationVersion) -> "IntegrationVersionOut":
        return cls(
            id=version.id,
            integration_id=version.integration_id,
            version=version.version,
            title=version.title,
            release_state=version.release_state,
            blueprint_sha256=version.blueprint_sha256,
            auth_type=version.auth_type,
            revision=version.revision,
            created_at=version.created_at,
            updated_at=version.updated_at,
        )


class IntegrationVersionUpdate(InputModel):
    release_state: ReleaseState | None = None
    title: NonBlank | None = Field(default=None, min_length=1, max_length=255)
