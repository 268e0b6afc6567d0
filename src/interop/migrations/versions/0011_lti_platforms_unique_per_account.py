"""lti_platforms: one registration per (account, issuer, client_id), not per server

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A client id is no secret: unique across the server, the first account to register a
# platform's (issuer, client_id) held it, the platform's own district was refused, and its
# JWTs acted as the first account. Each account now registers its own; a JWT matching the
# registrations of several accounts is refused as ambiguous.


def upgrade() -> None:
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.drop_constraint("uq_lti_platforms_issuer", type_="unique")
        batch_op.create_unique_constraint(
            "uq_lti_platforms_account_id", ["account_id", "issuer", "client_id"]
        )


def downgrade() -> None:
    # Fails (a unique violation) while two accounts register the same (issuer, client_id):
    # remove one of them first (`interop lti platforms remove`).
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.drop_constraint("uq_lti_platforms_account_id", type_="unique")
        batch_op.create_unique_constraint("uq_lti_platforms_issuer", ["issuer", "client_id"])
