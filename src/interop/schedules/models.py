"""Schedules: the daily UTC hour at which a tenant's collection runs."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionMixin

SCHEDULE_TYPES = ("collection", "delivery")
ONE_COLLECTION_PER_HOUR = "type = 'collection'"


class Schedule(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "schedules"
    __table_args__ = (
        # Two collection schedules of a tenant at one hour cannot both exist, however they race.
        Index(
            "uq_schedules_tenant_collection_hour",
            "tenant_id",
            "hour",
            unique=True,
            sqlite_where=text(ONE_COLLECTION_PER_HOUR),
            postgresql_where=text(ONE_COLLECTION_PER_HOUR),
        ),
        Index("ix_schedules_tenant_created", "tenant_id", "created_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16), default="collection")
    hour: Mapped[int]
    enabled: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The scheduler's memory: the newest slot it handled (ran or skipped), and the newest skip.
    last_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_skip_reason: Mapped[str | None] = mapped_column(String(32), default=None)
