"""client keys (private_key_jwt), LTI platform registrations, used assertion ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:09:19.474413
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import interop.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", interop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_used_assertions")),
    )
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_assertions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "client_keys",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kid", sa.String(length=255), nullable=True),
        sa.Column("public_jwk", sa.JSON(), nullable=True),
        sa.Column("jwks_url", sa.Text(), nullable=True),
        sa.Column("created_at", interop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_client_keys_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
    )
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_keys_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_client_keys_client_id"), ["client_id"], unique=False)

    op.create_table(
        "lti_platforms",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("deployment_ids", sa.JSON(), nullable=False),
        sa.Column("kid", sa.String(length=255), nullable=True),
        sa.Column("public_jwk", sa.JSON(), nullable=True),
        sa.Column("jwks_url", sa.Text(), nullable=True),
        sa.Column("created_at", interop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_lti_platforms_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer")),
    )
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_platforms_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lti_platforms_issuer"), ["issuer"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_platforms_issuer"))
        batch_op.drop_index(batch_op.f("ix_lti_platforms_account_id"))

    op.drop_table("lti_platforms")
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_keys_client_id"))
        batch_op.drop_index(batch_op.f("ix_client_keys_account_id"))

    op.drop_table("client_keys")
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_assertions_expires_at"))

    op.drop_table("used_assertions")
