"""A tenant's application: its auth workflow state, declared by the integration's blueprint."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from interop.application.models import TenantApplication as TenantApplicationRow
from interop.schemas import InputModel

AuthState = Literal["unconfigured", "confirmed", "error"]
PendingAuthState = Literal["none", "updating", "confirmed", "error"]


class TenantApplication(BaseModel):
    id: uuid.UUID = Field(description="A tenant has one application, which carries its id.")
    account_id: uuid.UUID
    tenant_id: uuid.UUID
    deliver_tasks: bool
    validate_tasks: bool
    auth_type: str = Field(description="From the blueprint: none, oauth2, basic, …")
    auth_state: AuthState
    auth_session_id_pending: uuid.UUID | None
    auth_message: str | None
    auth_state_pending: PendingAuthState
    auth_attributes_pending: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, application: TenantApplicationRow) -> "TenantApplication":
        return cls(
            id=application.tenant_id,
            account_id=application.account_id,
            tenant_id=application.tenant_id,
            deliver_tasks=application.deliver_tasks,
            validate_tasks=application.validate_tasks,
            auth_type=application.auth_type,
            auth_state=application.auth_state,
            auth_session_id_pending=application.auth_session_id_pending,
            auth_message=application.auth_message,
            auth_state_pending=application.auth_state_pending,
            auth_attributes_pending=application.auth_attributes_pending,
            created_at=application.created_at,
            updated_at=application.updated_at,
            version=application.version,
        )


class TenantApplicationUpdate(InputModel):
    auth_message: str | None = Field(default=None, max_length=4096)
    auth_state_pending: Literal["confirmed", "error"] | None = None
    auth_attributes_pending: dict[str, Any] | None = None
