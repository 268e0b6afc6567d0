"""Rollovers: windows around the school-year change that hold collection back."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionMixin, bytewise_string

ROLLOVER_TYPES = ("suspend_collection", "retain_deletes")
ROLLOVER_STATUSES = ("scheduled", "active", "completed", "cancelled")


class Rollover(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "rollovers"
    __table_args__ = (Index("ix_rollovers_tenant_dates", "tenant_id", "start_date", "end_date"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # `sort=name` orders bytewise on both backends. (Types and statuses, its other text sort
    # keys, are lowercase words and underscores that every collation orders alike.)
    name: Mapped[str] = mapped_column(bytewise_string(255))
    start_date: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    cloud_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clouds.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("actors.id", ondelete="SET NULL"), default=None
    )
    # `metadata` is reserved on declarative classes; the column keeps the contract's name.
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
