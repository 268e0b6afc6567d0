"""A tenant's application: its authentication workflow with the integration's own service."""

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, TimestampMixin, VersionMixin

AUTH_STATES = ("unconfigured", "confirmed", "error")
PENDING_AUTH_STATES = ("none", "updating", "confirmed", "error")


class TenantApplication(TimestampMixin, VersionMixin, Base):
    __tablename__ = "tenant_applications"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    deliver_tasks: Mapped[bool] = mapped_column(default=False)
    validate_tasks: Mapped[bool] = mapped_column(default=False)
    auth_type: Mapped[str] = mapped_column(String(32), default="none")
    auth_state: Mapped[str] = mapped_column(String(16), default="unconfigured")
    auth_session_id_pending: Mapped[uuid.UUID | None] = mapped_column(default=None)
    auth_message: Mapped[str | None] = mapped_column(Text, default=None)
    auth_state_pending: Mapped[str] = mapped_column(String(16), default="none")
    auth_attributes_pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
