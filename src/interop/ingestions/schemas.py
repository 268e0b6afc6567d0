"""Ingestions: one run of a collection (or another kind of load) for a tenant."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

IngestionType = Literal["collection", "bulk_load", "event_bundle", "bulk_attr_change", "mirror"]
IngestionState = Literal[
    "preparing", "scheduled", "executing", "success", "failed", "cancelled", "timeout"
]


class IngestionStats(BaseModel):
    records_read: int
    created: int
    updated: int
    deleted: int
    rejected: int


class IngestionError(BaseModel):
    code: str
    message: str


class Ingestion(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    schedule_id: uuid.UUID | None
    type: IngestionType
    state: IngestionState
    trigger: Literal["schedule", "on_demand"]
    topics: list[str]
    requested_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    stats: IngestionStats
    error: IngestionError | None
    created_at: datetime
    updated_at: datetime
    version: int
