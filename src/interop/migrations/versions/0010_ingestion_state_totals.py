"""ingestion_state_totals: ended ingestions counted by triggers, for /metrics

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The states an ingestion ends in: its history, which grows until it is pruned. Pending
# states (preparing, scheduled, executing) are few rows, counted from the table itself.
ENDED = "('success', 'failed', 'cancelled', 'timeout')"

# Each total moves by `delta` (an upsert: a state seen for the first time starts at 0).
ADD = """
    ON CONFLICT (state) DO UPDATE SET total = ingestion_state_totals.total + excluded.total
"""


def counting_function(name: str, body: str) -> str:
    """A PostgreSQL trigger function adding the (state, delta) rows `body` selects to the
    totals of their ended states. A total that would not move is not written (nor locked);
    the others are, in the order of their states: two transactions never wait for each
    other's totals in a cycle."""
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO ingestion_state_totals (state, total)
        SELECT change.state, sum(change.delta) FROM ({body}) AS change (state, delta)
        WHERE change.state IN {ENDED}
        GROUP BY change.state
        HAVING sum(change.delta) <> 0
        ORDER BY change.state
        {ADD};
        RETURN NULL;
    END
    $$
    """


# PostgreSQL: statement triggers, each counting the rows its statement changed per state
# (transition tables). A row trigger moved the same total once a row, and on PostgreSQL each
# move of a row the transaction has already moved walks past every version it made of it:
# 20,000 rows moved by one UPDATE took 66 s (6 s without), 200,000 inserted did not commit in
# 27 minutes. Inserts, prunes (5,000 a batch) and cascades (a tenant's whole history) come in
# bulk. Most statements move no total, and write none: a queued ingestion, a claim, every
# heartbeat and batch tally (whose state stays).
POSTGRESQL_UPGRADE = [
    counting_function(
        "ingestion_state_totals_count_moved",
        "SELECT state, -1 FROM ingestions_before UNION ALL SELECT state, 1 FROM ingestions_after",
    ),
    counting_function(
        "ingestion_state_totals_count_inserted",
        "SELECT state, 1 FROM ingestions_after",
    ),
    counting_function(
        "ingestion_state_totals_count_deleted",
        "SELECT state, -1 FROM ingestions_before",
    ),
    """
    CREATE FUNCTION ingestion_state_totals_clear() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM ingestion_state_totals;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER ingestion_state_totals_moved AFTER UPDATE ON ingestions
    REFERENCING OLD TABLE AS ingestions_before NEW TABLE AS ingestions_after
    FOR EACH STATEMENT EXECUTE FUNCTION ingestion_state_totals_count_moved()
    """,
    """
    CREATE TRIGGER ingestion_state_totals_inserted AFTER INSERT ON ingestions
    REFERENCING NEW TABLE AS ingestions_after
    FOR EACH STATEMENT EXECUTE FUNCTION ingestion_state_totals_count_inserted()
    """,
    """
    CREATE TRIGGER ingestion_state_totals_deleted AFTER DELETE ON ingestions
    REFERENCING OLD TABLE AS ingestions_before
    FOR EACH STATEMENT EXECUTE FUNCTION ingestion_state_totals_count_deleted()
    """,
    """
    CREATE TRIGGER ingestion_state_totals_truncated AFTER TRUNCATE ON ingestions
    FOR EACH STATEMENT EXECUTE FUNCTION ingestion_state_totals_clear()
    """,
]
POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER ingestion_state_totals_truncated ON ingestions",
    "DROP TRIGGER ingestion_state_totals_deleted ON ingestions",
    "DROP TRIGGER ingestion_state_totals_inserted ON ingestions",
    "DROP TRIGGER ingestion_state_totals_moved ON ingestions",
    "DROP FUNCTION ingestion_state_totals_clear()",
    "DROP FUNCTION ingestion_state_totals_count_deleted()",
    "DROP FUNCTION ingestion_state_totals_count_inserted()",
    "DROP FUNCTION ingestion_state_totals_count_moved()",
]

# SQLite has row triggers only, which do: it updates a total in place (no versions to walk
# past) and serializes writers anyway. Its foreign key cascades fire them too. A later migration
# that rebuilds `ingestions` in batch mode (a copy) drops them: it must create them again.
SQLITE_UPGRADE = [
    f"""
    CREATE TRIGGER ingestion_state_totals_inserted AFTER INSERT ON ingestions
    WHEN NEW.state IN {ENDED}
    BEGIN
        INSERT INTO ingestion_state_totals (state, total) VALUES (NEW.state, 1) {ADD};
    END
    """,
    f"""
    CREATE TRIGGER ingestion_state_totals_moved AFTER UPDATE OF state ON ingestions
    WHEN OLD.state IS NOT NEW.state AND (OLD.state IN {ENDED} OR NEW.state IN {ENDED})
    BEGIN
        INSERT INTO ingestion_state_totals (state, total)
        SELECT OLD.state, -1 WHERE OLD.state IN {ENDED} {ADD};
        INSERT INTO ingestion_state_totals (state, total)
        SELECT NEW.state, 1 WHERE NEW.state IN {ENDED} {ADD};
    END
    """,
    f"""
    CREATE TRIGGER ingestion_state_totals_deleted AFTER DELETE ON ingestions
    WHEN OLD.state IN {ENDED}
    BEGIN
        INSERT INTO ingestion_state_totals (state, total) VALUES (OLD.state, -1) {ADD};
    END
    """,
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER ingestion_state_totals_deleted",
    "DROP TRIGGER ingestion_state_totals_moved",
    "DROP TRIGGER ingestion_state_totals_inserted",
]


def upgrade() -> None:
    op.create_table(
        "ingestion_state_totals",
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_ingestion_state_totals")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_UPGRADE if postgresql else SQLITE_UPGRADE:
        op.execute(statement)
    # After the triggers, in the same transaction: on PostgreSQL, creating them locked the
    # table against writes until the commit, so no row changes between this count and them.
    op.execute(
        "INSERT INTO ingestion_state_totals (state, total) "
        f"SELECT state, count(*) FROM ingestions WHERE state IN {ENDED} GROUP BY state"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DOWNGRADE if postgresql else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_table("ingestion_state_totals")
