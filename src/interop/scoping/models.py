"""Scoping entries: the schools and courses a tenant's repository is limited to."""

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, VersionMixin


class ScopingEntry(IdMixin, TimestampMixin, VersionMixin):
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    school_ref_id: Mapped[str | None] = mapped_column(String(255), default=None)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    local_id: Mapped[str | None] = mapped_column(String(255), default=None)
    keywords: Mapped[str | None] = mapped_column(String(255), default=None)
    selected: Mapped[bool] = mapped_column(default=True)


class ScopingSchool(ScopingEntry, Base):
    __tablename__ = "scoping_schools"
    # An identifier appears once per tenant (NULLs are distinct on both backends): the
    # backstop for two writers racing past the service's own duplicate check.
    __table_args__ = (
        Index("uq_scoping_schools_tenant_school_id", "tenant_id", "school_id", unique=True),
        Index("uq_scoping_schools_tenant_school_ref_id", "tenant_id", "school_ref_id", unique=True),
        Index("ix_scoping_schools_tenant_created", "tenant_id", "created_at", "id"),
    )


class ScopingCourse(ScopingEntry, Base):
    __tablename__ = "scoping_courses"
    __table_args__ = (
        Index("uq_scoping_courses_tenant_course_id", "tenant_id", "course_id", unique=True),
        Index("uq_scoping_courses_tenant_course_ref_id", "tenant_id", "course_ref_id", unique=True),
        Index("ix_scoping_courses_tenant_created", "tenant_id", "created_at", "id"),
    )

    course_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    course_ref_id: Mapped[str | None] = mapped_column(String(255), default=None)
