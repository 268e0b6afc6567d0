"""Ingestions: one run of a collection (or another kind of load) for a tenant."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from interop.ingestions.models import Ingestion as IngestionRow

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


class RejectedRow(BaseModel):
    file: str
    line: int
    sourced_id: str | None
    message: str


class IngestionDetails(BaseModel):
    """(ext) What a collection set aside: rejected rows (the first 100, then a count) and the
    deletions a `retain_deletes` rollover withheld, per topic."""

    rejected_rows: list[RejectedRow] = []
    rejected_rows_omitted: int = 0
    withheld_deletions: dict[str, int] = {}
    source_fingerprint: str | None = Field(
        default=None,
        description=(
            "Hash of the bundle, scoping and rollover a collection worked from; a collection "
            "whose fingerprint equals the tenant's last successful one has nothing to change "
            "and skips straight to success with that run's counts."
        ),
    )


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
    details: IngestionDetails = Field(description="(ext) Rejected rows and withheld deletions.")
    progress: dict[str, int] = Field(description="(ext) Rows read so far, per bundle file.")
    created_at: datetime
    updated_at: datetime
    version: int


def ingestion_out(row: IngestionRow) -> Ingestion:
    return Ingestion(
        id=row.id,
        tenant_id=row.tenant_id,
        schedule_id=row.schedule_id,
        type=row.type,
        state=row.state,
        trigger=row.trigger,
        topics=list(row.topics or []),
        requested_at=row.requested_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        stats=IngestionStats(
            records_read=row.records_read,
            created=row.created,
            updated=row.updated,
            deleted=row.deleted,
            rejected=row.rejected,
        ),
        error=IngestionError(code=row.error_code, message=row.error_message or "")
        if row.error_code
        else None,
        details=IngestionDetails.model_validate(row.details or {}),
        progress=dict(row.progress or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )
