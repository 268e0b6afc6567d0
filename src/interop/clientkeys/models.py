"""Public keys a client registered to authenticate with signed JWTs (RFC 7523 §2.2), and the
assertion ids already used (replay protection)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, UTCDateTime, utcnow


class ClientKey(IdMixin, Base):
    __tablename__ = "client_keys"

    # The account that owns the client (an API key's account, an actor's account): deleting
    # it deletes its keys. The client itself is checked at every use.
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    # An actor's keys go with the actor, however it goes (uninstalled, or its cloud deleted):
    # keys left behind could never be listed nor removed. An API key is never deleted, only
    # revoked, which removes its keys (null here).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("actors.id", ondelete="CASCADE"), default=None, index=True
    )
    # A static key has its public JWK (and kid); a JWKS URL is fetched when used.
    kid: Mapped[str | None] = mapped_column(String(255), default=None)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    jwks_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedAssertion(Base):
    """A client assertion's `jti`, kept until the assertion expires: a second use is refused."""

    __tablename__ = "used_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
