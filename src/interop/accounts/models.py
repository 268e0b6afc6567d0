"""Accounts (the owners of everything) and their API keys."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, UTCDateTime, VersionMixin

ACCOUNT_PATH_LENGTH = 2048
# The deepest an account may sit, its root at level 1. Its path is "/" and then "<id>/", 37
# characters, per level, so a deeper one would not fit the column: PostgreSQL refuses such a
# path, SQLite stores it (it enforces no length), and the two backends must agree.
MAX_ACCOUNT_DEPTH = (ACCOUNT_PATH_LENGTH - len("/")) // len(f"{uuid.UUID(int=0)}/")


class Account(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        # Visibility is `path LIKE '<ancestor path>%'`. Under a non-C collation PostgreSQL's
        # plain b-tree cannot serve LIKE; text_pattern_ops can (migration 0006). SQLite's LIKE
        # needs no such index.
        Index(
            "ix_accounts_path_pattern", "path", postgresql_ops={"path": "text_pattern_ops"}
        ).ddl_if(dialect="postgresql"),
    )

    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    userdata: Mapped[str | None] = mapped_column(Text, default=None)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), default=None, index=True
    )
    # Materialized ancestry "/<root>/.../<self>/": descendants are a prefix match, on any backend.
    path: Mapped[str] = mapped_column(String(ACCOUNT_PATH_LENGTH), index=True)


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
