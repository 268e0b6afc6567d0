"""A tenant's application: its auth workflow state, declared by the integration's blueprint."""

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from interop.schemas import InputModel

AuthState = Literal["unconfigured", "confirmed", "error"]
PendingAuthState = Literal["none", "updating", "confirmed", "error"]


class TenantApplication(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    version: int


class TenantApplicationUpdate(InputModel):
    auth_message: str | None = Field(default=None, max_length=4096)
    auth_state_pending: Literal["confirmed", "error"] | None = None
    auth_attributes_pending: dict[str, Any] | None = None
