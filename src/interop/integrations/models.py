"""Integrations (edtech applications) and their versions, each described by a blueprint."""

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin

RELEASE_STATES = ("unspecified", "development", "beta", "released", "deprecated")
INTEGRATION_STATUSES = ("active", "inactive")


class Integration(IdMixin, TimestampMixin, Base):
    __tablename__ = "integrations"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # (ext) lets accounts other than the owner install `beta` versions too.
    allow_beta: Mapped[bool] = mapped_column(default=False)
    # `version` is the contract's name for the newest version string, so the integer that
    # drives ETag/If-Match is called `revision` here.
    revision: Mapped[int] = mapped_column(default=1)


class IntegrationVersion(IdMixin, TimestampMixin, Base):
    __tablename__ = "integration_versions"
    __table_args__ = (
        UniqueConstraint(
            "integration_id", "version", name="uq_integration_versions_integration_id_version"
        ),
    )

    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    release_state: Mapped[str] = mapped_column(String(16), default="development")
    blueprint: Mapped[str] = mapped_column(Text)
    blueprint_sha256: Mapped[str] = mapped_column(String(64))
    auth_type: Mapped[str] = mapped_column(String(32), default="none")
    # The tenant application's defaults, from the blueprint's <Application> element.
    deliver_tasks: Mapped[bool] = mapped_column(default=False)
    validate_tasks: Mapped[bool] = mapped_column(default=False)
    revision: Mapped[int] = mapped_column(default=1)
