"""The server's own token-signing keys, shared by every process through the database."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, UTCDateTime, utcnow

MAX_KID_LENGTH = 64


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(MAX_KID_LENGTH), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    # PEM of the private key, encrypted with the server secret: never stored in clear.
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A retired key signs nothing new but stays in the JWKS until its tokens expire.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
