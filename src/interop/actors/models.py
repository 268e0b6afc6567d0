"""Actors: the things installed in a cloud (integrations, connectors), each with credentials."""

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, VersionMixin

ACTOR_TYPES = ("connector", "integration", "repository", "application")


class Actor(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "actors"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    cloud_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clouds.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="RESTRICT"), default=None, index=True
    )
    integration_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_versions.id", ondelete="RESTRICT"), default=None, index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The secret must be shown again (include_credentials), so it is encrypted, not hashed.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # Bumped on rotation; tokens carry it, so rotating revokes every earlier token at once.
    secret_generation: Mapped[int] = mapped_column(default=1)
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
