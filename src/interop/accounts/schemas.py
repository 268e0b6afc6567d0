"""(ext) Account API keys as the API shows them: their ids, and a new key's secret once."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AccountKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    client_id: str = Field(description="Exchanged, with its secret, at /oauth/token.")
    created_at: datetime
    updated_at: datetime


class IssuedAccountKeyOut(AccountKeyOut):
    client_secret: str = Field(description="Shown only in this answer: store it now.")
