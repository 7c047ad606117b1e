"""tenant: teams (a tree), custom roles, users in teams, any role name on users,
customers' credit limit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Additive apart from dropping the check that limited users.role to the built-in names
(custom roles are checked by the application, which knows both kinds).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(["parent_id"], ["teams.id"], name="fk_teams_parent_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("parent_id", "name", name="uq_teams_parent_id_name"),
    )
    op.create_index("ix_teams_path", "teams", ["path"], postgresql_ops={"path": "text_pattern_ops"})
    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("permissions", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("data_scope", sa.Text(), nullable=False),
        *_record_columns(),
        sa.CheckConstraint(
            "data_scope in ('assigned', 'own', 'team', 'all')", name="ck_roles_data_scope"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("name", name="uq_roles_name"),
    )
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.add_column("users", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("fk_users_team_id_teams", "users", "teams", ["team_id"], ["id"])
    op.create_index("ix_users_team_id", "users", ["team_id"])
    op.create_index(
        "ix_audit_log_action",
        "audit_log",
        ["action", "at"],
        postgresql_ops={"action": "text_pattern_ops"},
    )
    op.add_column("customers", sa.Column("credit_limit", sa.Numeric(18, 2), nullable=True))
    # Jobs are visible by their starter's data scope.
    op.create_index("ix_jobs_created_by", "jobs", ["created_by", "created_at"])


def downgrade() -> None:
    op.drop_column("customers", "credit_limit")
    op.drop_index("ix_audit_log_action", "audit_log")
    op.drop_index("ix_jobs_created_by", "jobs")
    op.drop_index("ix_users_team_id", "users")
    op.drop_constraint("fk_users_team_id_teams", "users", type_="foreignkey")
    op.drop_column("users", "team_id")
    op.create_check_constraint(
        "ck_users_role", "users", "role in ('admin', 'manager', 'sales', 'service', 'viewer')"
    )
    op.drop_table("roles")
    op.drop_table("teams")
