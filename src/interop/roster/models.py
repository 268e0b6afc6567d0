"""One table per OneRoster topic, keyed by (tenant, sourcedId).

A record removed from the source is kept as a tombstone (`status = tobedeleted`) so that
`changed_since` reports deletions; `digest` is the hash of what the source said, which is how
an unchanged row is recognised without comparing every field.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, UTCDateTime, bytewise_string

# A sourcedId's longest (the column's length).
MAX_SOURCED_ID_LENGTH = 255


class RosterRecord:
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sourced_id: Mapped[str] = mapped_column(
        bytewise_string(MAX_SOURCED_ID_LENGTH), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    date_last_modified: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _changes_index(table: str) -> tuple[Index]:
    # changed_since pages walk (updated_at, sourced_id) within one tenant.
    return (Index(f"ix_{table}_tenant_changes", "tenant_id", "updated_at", "sourced_id"),)


class RosterOrg(RosterRecord, Base):
    __tablename__ = "roster_orgs"
    __table_args__ = _changes_index(__tablename__)


class RosterAcademicSession(RosterRecord, Base):
    __tablename__ = "roster_academic_sessions"
    __table_args__ = _changes_index(__tablename__)


class RosterCourse(RosterRecord, Base):
    __tablename__ = "roster_courses"
    __table_args__ = _changes_index(__tablename__)


class RosterClass(RosterRecord, Base):
    __tablename__ = "roster_classes"
    __table_args__ = _changes_index(__tablename__)


class RosterUser(RosterRecord, Base):
    __tablename__ = "roster_users"
    __table_args__ = _changes_index(__tablename__)


class RosterEnrollment(RosterRecord, Base):
    __tablename__ = "roster_enrollments"
    __table_args__ = _changes_index(__tablename__)


class RosterDemographic(RosterRecord, Base):
    __tablename__ = "roster_demographics"
    __table_args__ = _changes_index(__tablename__)


TOPIC_TABLES: dict[str, type[RosterRecord]] = {
    "orgs": RosterOrg,
    "academic_sessions": RosterAcademicSession,
    "courses": RosterCourse,
    "classes": RosterClass,
    "users": RosterUser,
    "enrollments": RosterEnrollment,
    "demographics": RosterDemographic,
}


def topic_table(topic: str) -> Table:
    """The Core table of a topic, for bulk statements."""
    return Base.metadata.tables[f"roster_{topic}"]
