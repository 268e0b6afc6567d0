"""Ingestions: one run of a collection for a tenant. The row is the job."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionMixin, utcnow

PENDING_STATES = ("preparing", "scheduled", "executing")
PENDING_CONDITION = "state IN ('preparing', 'scheduled', 'executing')"
# Where a run ends. Ingestions in these states are the history, which grows until an operator
# prunes it (`interop ingestions prune`).
ENDED_STATES = ("success", "failed", "cancelled", "timeout")


class Ingestion(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "ingestions"
    __table_args__ = (
        # At most one pending ingestion per tenant: the database decides between racers.
        Index(
            "uq_ingestions_one_pending_per_tenant",
            "tenant_id",
            unique=True,
            sqlite_where=text(PENDING_CONDITION),
            postgresql_where=text(PENDING_CONDITION),
        ),
        Index("ix_ingestions_tenant_requested", "tenant_id", "requested_at", "id"),
        Index("ix_ingestions_requested", "requested_at", "id"),
        # What workers claim from: queued or running (for stale-heartbeat takeover) rows.
        Index("ix_ingestions_state_requested", "state", "requested_at"),
        # /metrics' latest successful ingestion, on every scrape: a scan of the whole history
        # without it (127 ms at 1,000,000 ingestions on PostgreSQL, 0.05 ms with it).
        Index("ix_ingestions_state_completed", "state", "completed_at"),
        # A schedule's slot fires once, however many schedulers race for it.
        Index("uq_ingestions_schedule_slot", "schedule_id", "slot_at", unique=True),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), default=None, index=True
    )
    type: Mapped[str] = mapped_column(String(32), default="collection")
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    trigger: Mapped[str] = mapped_column(String(16))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    records_read: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # The engine's bookkeeping: which scheduled slot queued it, which attempt of which worker
    # holds it (a worker whose attempt is no longer current may not write), when it last
    # proved alive, rows read per file, and the (ext) details (rejected rows, withheld
    # deletions).
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempt: Mapped[int] = mapped_column(default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IngestionStateTotal(Base):
    """How many ingestions are stored in each ended state, which /metrics reads on every
    scrape, where counting the history grew with it (at 200,000 ingestions a scrape's
    statements took 95 ms on PostgreSQL and 64 ms on SQLite; 0.8 and 0.1 ms with these).

    Kept by triggers on `ingestions` (migration 0010), in the transaction of the change
    itself: a row inserted in, moved into or out of, or deleted from an ended state (by a
    prune, or by the cascade from its tenant, cloud or account) moves its state's total, so
    the totals equal a count of the rows in every transaction's view. A state without a
    row here has none."""

    __tablename__ = "ingestion_state_totals"

    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)
