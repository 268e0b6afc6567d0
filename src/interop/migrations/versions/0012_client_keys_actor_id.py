"""client_keys.actor_id: an actor's keys are deleted with the actor (cascade)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The keys stored so far name their actor by its client_id only.
LINK_TO_ACTORS = """
    UPDATE client_keys SET actor_id =
        (SELECT actors.id FROM actors WHERE actors.client_id = client_keys.client_id)
"""
# Keys left behind before this migration: of actors deleted (uninstalled, or with their
# cloud) and of API keys revoked. No client has them, so nothing could list or remove them.
REMOVE_ORPHANS = """
    DELETE FROM client_keys WHERE actor_id IS NULL AND client_id NOT IN
        (SELECT client_id FROM api_keys WHERE revoked_at IS NULL)
"""


def upgrade() -> None:
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_client_keys_actor_id"), ["actor_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_client_keys_actor_id_actors"),
            "actors",
            ["actor_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.execute(LINK_TO_ACTORS)
    op.execute(REMOVE_ORPHANS)


def downgrade() -> None:
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_client_keys_actor_id_actors"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_client_keys_actor_id"))
        batch_op.drop_column("actor_id")
