"""Cloud request and response bodies."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from interop.clouds.models import Cloud
from interop.schemas import InputModel, JsonInt, JsonUUID, NonBlank

# The published API's generation is an int32 (and so is the column on PostgreSQL).
INT32_MAX = 2_147_483_647


class Env(BaseModel):
    id: uuid.UUID
    name: str


class CloudOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    userdata: str | None
    generation: int
    env: Env
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, cloud: Cloud) -> "CloudOut":
        return cls(
            id=cloud.id,
            account_id=cloud.account_id,
            name=cloud.name,
            userdata=cloud.userdata,
            generation=cloud.generation,
            env=Env(id=cloud.env_id, name=cloud.env_name),
            created_at=cloud.created_at,
            updated_at=cloud.updated_at,
            version=cloud.version,
        )


class CloudCreate(InputModel):
    name: NonBlank = Field(min_length=1, max_length=255)
    userdata: str | None = Field(default=None, max_length=65536)
    generation: JsonInt = Field(default=1, ge=1, le=INT32_MAX)
    account_id: JsonUUID | None = Field(
        default=None,
        description="(ext) Create the cloud for a visible descendant account; default: yours.",
    )
