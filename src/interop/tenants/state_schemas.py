"""TenantState: where a tenant's data sync stands."""

import uuid
from datetime import datetime

from pydantic import BaseModel

from interop.ingestions.schemas import IngestionState


class LastIngestion(BaseModel):
    id: uuid.UUID
    state: IngestionState
    completed_at: datetime | None


class TenantState(BaseModel):
    tenant_id: uuid.UUID
    op_state: str
    setup_state: str
    paused: bool
    pending_ingestion_id: uuid.UUID | None
    last_ingestion: LastIngestion | None
    active_rollover_id: uuid.UUID | None
    last_sync_at: datetime | None
