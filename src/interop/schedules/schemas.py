"""Schedules: the daily UTC hour at which a tenant's collection runs."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from interop.schemas import InputModel


class Schedule(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    type: Literal["collection", "delivery"]
    hour: int = Field(ge=0, le=23, description="UTC hour, 0..23")
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class ScheduleCreate(InputModel):
    hour: int = Field(ge=0, le=23, description="UTC hour, 0..23")


class ScheduleUpdate(InputModel):
    enabled: bool | None = None
