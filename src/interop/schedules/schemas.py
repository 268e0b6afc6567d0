"""Schedules: the daily UTC hour at which a tenant's collection runs."""

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row

from interop.schedules.models import Schedule as ScheduleRow
from interop.schemas import InputModel, JsonInt


class Schedule(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    type: Literal["collection", "delivery"]
    hour: int = Field(ge=0, le=23, description="UTC hour, 0..23")
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_skipped_at: datetime | None = Field(
        description="(ext) When the scheduler last skipped a slot of this schedule."
    )
    last_skip_reason: Literal["missed", "ingestion_pending"] | None = Field(
        description="(ext) Why: the slot was missed by over an hour, or an ingestion was pending."
    )
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, schedule: ScheduleRow | Row[Any], now: datetime) -> "Schedule":
        """From the ORM object or a row of its columns (service.TENANT_SCHEDULES_PAGE)."""
        return cls(
            id=schedule.id,
            tenant_id=schedule.tenant_id,
            type=schedule.type,
            hour=schedule.hour,
            enabled=schedule.enabled,
            # A disabled schedule has no next run.
            next_run_at=next_occurrence(schedule.hour, now) if schedule.enabled else None,
            last_run_at=schedule.last_run_at,
            last_skipped_at=schedule.last_skipped_at,
            last_skip_reason=schedule.last_skip_reason,
            created_at=schedule.created_at,
            updated_at=schedule.updated_at,
            version=schedule.version,
        )


def next_occurrence(hour: int, now: datetime) -> datetime:
    """The next time the clock shows `hour`:00 UTC, strictly after `now`."""
    candidate = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


class ScheduleCreate(InputModel):
    hour: JsonInt = Field(ge=0, le=23, description="UTC hour, 0..23")


class ScheduleUpdate(InputModel):
    enabled: bool | None = None
