"""Rollovers: windows around the school-year change that hold collection back."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from interop.rollovers.models import Rollover as RolloverRow
from interop.schemas import InputModel, JsonDateTime, JsonUUID, NonBlank

RolloverType = Literal["suspend_collection", "retain_deletes"]
RolloverStatus = Literal["scheduled", "active", "completed", "cancelled"]
SORT_FIELDS = ("name", "start_date", "end_date", "type", "status", "created_at")


class Rollover(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    start_date: datetime
    end_date: datetime
    type: RolloverType
    status: RolloverStatus
    cloud_id: uuid.UUID
    actor_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, rollover: RolloverRow) -> "Rollover":
        return cls(
            id=rollover.id,
            tenant_id=rollover.tenant_id,
            name=rollover.name,
            start_date=rollover.start_date,
            end_date=rollover.end_date,
            type=rollover.type,
            status=rollover.status,
            cloud_id=rollover.cloud_id,
            actor_id=rollover.actor_id,
            metadata=rollover.extra or {},
            created_at=rollover.created_at,
            updated_at=rollover.updated_at,
            version=rollover.version,
        )


class RolloverIn(InputModel):
    name: NonBlank = Field(min_length=1, max_length=255)
    start_date: JsonDateTime
    end_date: JsonDateTime
    type: RolloverType
    status: RolloverStatus
    cloud_id: JsonUUID
    actor_id: JsonUUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
