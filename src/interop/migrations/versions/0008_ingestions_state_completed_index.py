"""ingestions (state, completed_at): the latest successful ingestion without a scan

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ingestions_state_completed", "ingestions", ["state", "completed_at"])


def downgrade() -> None:
    op.drop_index("ix_ingestions_state_completed", table_name="ingestions")
