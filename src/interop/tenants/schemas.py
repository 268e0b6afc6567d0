"""TenantInfo: everything an integration's driver needs to serve one installation."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from interop.clouds.schemas import Env


class TenantAccount(BaseModel):
    id: uuid.UUID
    name: str
    public_id: str
    timezone: str
    userdata: str | None


class TenantCloud(BaseModel):
    id: uuid.UUID
    name: str
    generation: int
    env: Env


class TenantIntegration(BaseModel):
    id: uuid.UUID
    name: str
    version: str


class License(BaseModel):
    valid_from: datetime
    valid_to: datetime | None
    status: Literal["active", "suspended", "expired"]


class SyncStatus(BaseModel):
    op_state: Literal["idle", "running", "paused", "error"]
    setup_state: Literal["pending", "ready"]
    last_sync_at: datetime | None


class TenantAuth(BaseModel):
    type: Literal["oauth2_client_credentials"]
    client_id: str
    client_secret: str
    updated_at: datetime


class TenantInfo(BaseModel):
    id: uuid.UUID
    name: str
    account: TenantAccount
    cloud: TenantCloud
    integration: TenantIntegration
    license: License
    status: SyncStatus
    sis_status: SyncStatus
    auth: TenantAuth
    created_at: datetime
    updated_at: datetime
    version: int
