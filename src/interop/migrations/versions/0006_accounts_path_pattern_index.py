"""accounts.path: a pattern index on PostgreSQL for the descendant (prefix) match

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Visibility is `path LIKE '<ancestor path>%'` on PostgreSQL. Under a non-C collation its
    # plain b-tree cannot serve LIKE; text_pattern_ops can. SQLite gets no such index: its
    # LIKE ignores case and so uses none, and visibility there is a range over
    # ix_accounts_path instead (db.StartsWith, since 2026-11-28).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_accounts_path_pattern ON accounts (path text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_accounts_path_pattern")
