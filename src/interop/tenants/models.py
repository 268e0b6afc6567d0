"""Tenants: one installation of an integration in a cloud, with its license and status."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionMixin

LICENSE_STATUSES = ("active", "suspended", "expired")
OP_STATES = ("idle", "running", "paused", "error")
SETUP_STATES = ("pending", "ready")


class Tenant(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "tenants"
    __table_args__ = (
        UniqueConstraint("cloud_id", "integration_id", name="uq_tenants_cloud_id_integration_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    cloud_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clouds.id", ondelete="CASCADE"), index=True
    )
    # Uninstalling the actor removes the tenant with everything under it.
    actor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), unique=True
    )
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="RESTRICT"), index=True
    )
    integration_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_versions.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    license_valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    license_valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    license_status: Mapped[str] = mapped_column(String(16), default="active")
    op_state: Mapped[str] = mapped_column(String(16), default="idle")
    setup_state: Mapped[str] = mapped_column(String(16), default="pending")
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sis_op_state: Mapped[str] = mapped_column(String(16), default="idle")
    sis_setup_state: Mapped[str] = mapped_column(String(16), default="pending")
    sis_last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
