"""Interop Clouds: an account's home for SIS data and the actors installed around it."""

import uuid

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interop.db import Base, IdMixin, TimestampMixin, VersionMixin

DEFAULT_ENV_NAME = "production"
# Every cloud lives in the one environment a self-hosted server has; its id is stable.
DEFAULT_ENV_ID = uuid.uuid5(uuid.NAMESPACE_URL, "interop:env:production")


class Cloud(IdMixin, TimestampMixin, VersionMixin, Base):
    __tablename__ = "clouds"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_clouds_account_id_name"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    userdata: Mapped[str | None] = mapped_column(Text, default=None)
    generation: Mapped[int] = mapped_column(default=1)
    env_id: Mapped[uuid.UUID] = mapped_column(default=DEFAULT_ENV_ID)
    env_name: Mapped[str] = mapped_column(String(64), default=DEFAULT_ENV_NAME)
