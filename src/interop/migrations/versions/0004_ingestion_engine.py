"""ingestion engine: roster repository, worker and scheduler bookkeeping

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 03:33:42.699132
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roster_academic_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_academic_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "sourced_id", name=op.f("pk_roster_academic_sessions")
        ),
    )
    with op.batch_alter_table("roster_academic_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_academic_sessions_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    op.create_table(
        "roster_classes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_classes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_classes")),
    )
    with op.batch_alter_table("roster_classes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_classes_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    op.create_table(
        "roster_courses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_courses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_courses")),
    )
    with op.batch_alter_table("roster_courses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_courses_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    op.create_table(
        "roster_demographics",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_demographics_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_demographics")),
    )
    with op.batch_alter_table("roster_demographics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_demographics_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    op.create_table(
        "roster_enrollments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_enrollments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_enrollments")),
    )
    with op.batch_alter_table("roster_enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_enrollments_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    op.create_table(
        "roster_orgs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_orgs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_orgs")),
    )
    with op.batch_alter_table("roster_orgs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_orgs_tenant_changes", ["tenant_id", "updated_at", "sourced_id"], unique=False
        )

    op.create_table(
        "roster_users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sourced_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("date_last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roster_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sourced_id", name=op.f("pk_roster_users")),
    )
    with op.batch_alter_table("roster_users", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roster_users_tenant_changes",
            ["tenant_id", "updated_at", "sourced_id"],
            unique=False,
        )

    with op.batch_alter_table("ingestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("progress", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.create_index(
            "ix_ingestions_state_requested", ["state", "requested_at"], unique=False
        )
        batch_op.create_index(
            "uq_ingestions_schedule_slot", ["schedule_id", "slot_at"], unique=True
        )

    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_slot_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_skipped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_skip_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("last_skip_reason")
        batch_op.drop_column("last_skipped_at")
        batch_op.drop_column("last_slot_at")

    with op.batch_alter_table("ingestions", schema=None) as batch_op:
        batch_op.drop_index("uq_ingestions_schedule_slot")
        batch_op.drop_index("ix_ingestions_state_requested")
        batch_op.drop_column("details")
        batch_op.drop_column("progress")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("worker_id")
        batch_op.drop_column("attempt")
        batch_op.drop_column("slot_at")

    with op.batch_alter_table("roster_users", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_users_tenant_changes")

    op.drop_table("roster_users")
    with op.batch_alter_table("roster_orgs", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_orgs_tenant_changes")

    op.drop_table("roster_orgs")
    with op.batch_alter_table("roster_enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_enrollments_tenant_changes")

    op.drop_table("roster_enrollments")
    with op.batch_alter_table("roster_demographics", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_demographics_tenant_changes")

    op.drop_table("roster_demographics")
    with op.batch_alter_table("roster_courses", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_courses_tenant_changes")

    op.drop_table("roster_courses")
    with op.batch_alter_table("roster_classes", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_classes_tenant_changes")

    op.drop_table("roster_classes")
    with op.batch_alter_table("roster_academic_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_roster_academic_sessions_tenant_changes")

    op.drop_table("roster_academic_sessions")
