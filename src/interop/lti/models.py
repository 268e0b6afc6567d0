"""LTI 1.3 platforms an account registered: their signed JWTs act as the account."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, UTCDateTime, utcnow


class LtiPlatform(IdMixin, Base):
    __tablename__ = "lti_platforms"
    # One registration per account for a platform's (issuer, client_id). Not one per server:
    # a client id is no secret, so the first account to register it would hold the platform
    # (its JWTs acting as that account) and refuse the platform's own district. A JWT that
    # matches the registrations of several accounts is refused (service.py).
    __table_args__ = (UniqueConstraint("account_id", "issuer", "client_id"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(512), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    kid: Mapped[str | None] = mapped_column(String(255), default=None)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    jwks_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
