"""tenant: custom field definitions and values

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

Additive: two new tables, no change to existing ones. Custom fields are rows, not
columns: defining or removing a field later never runs DDL and never locks a
tenant's business tables. Values are typed (one column set per field type) and
indexed per (field_id, value), so filters on any field are index range scans.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("options", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("min_value", sa.Numeric(), nullable=True),
        sa.Column("max_value", sa.Numeric(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "entity in ('customer', 'contact', 'lead', 'opportunity')",
            name="ck_custom_field_definitions_entity",
        ),
        sa.CheckConstraint(
            "type in ('text', 'number', 'decimal', 'date', 'boolean', 'select', 'multiselect')",
            name="ck_custom_field_definitions_type",
        ),
        sa.CheckConstraint(
            "key ~ '^[a-z][a-z0-9_]{0,39}$'", name="ck_custom_field_definitions_key"
        ),
        sa.CheckConstraint(
            "(type in ('select', 'multiselect')) = (cardinality(options) > 0)",
            name="ck_custom_field_definitions_options",
        ),
        sa.CheckConstraint(
            "max_length IS NULL OR (type = 'text' AND max_length > 0)",
            name="ck_custom_field_definitions_max_length",
        ),
        sa.CheckConstraint(
            "(min_value IS NULL AND max_value IS NULL) OR type in ('number', 'decimal')",
            name="ck_custom_field_definitions_range",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_custom_field_definitions"),
    )  # fmt: skip
    op.create_index(
        "uq_custom_field_definitions_key", "custom_field_definitions", ["entity", "key"],
        unique=True, postgresql_where=sa.text("deleted_at IS NULL"),
    )  # fmt: skip
    op.create_table(
        "custom_field_values",
        sa.Column("field_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("text_value", sa.Text(), nullable=True),
        sa.Column("number_value", sa.BigInteger(), nullable=True),
        sa.Column("decimal_value", sa.Numeric(18, 4), nullable=True),
        sa.Column("date_value", sa.Date(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("options_value", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(text_value, number_value, decimal_value, date_value, bool_value, "
            "options_value) = 1",
            name="ck_custom_field_values_one_value",
        ),
        sa.CheckConstraint(
            "cardinality(options_value) > 0", name="ck_custom_field_values_options_value"
        ),
        sa.ForeignKeyConstraint(
            ["field_id"], ["custom_field_definitions.id"],
            name="fk_custom_field_values_field_id_custom_field_definitions",
        ),
        sa.PrimaryKeyConstraint("field_id", "entity_id", name="pk_custom_field_values"),
    )  # fmt: skip
    for name, column in (
        ("text", "text_value"),
        ("number", "number_value"),
        ("decimal", "decimal_value"),
        ("date", "date_value"),
        ("bool", "bool_value"),
    ):
        op.create_index(
            f"ix_custom_field_values_{name}", "custom_field_values",
            ["field_id", column, "entity_id"],
        )  # fmt: skip
    op.create_index(
        "ix_custom_field_values_options", "custom_field_values", ["options_value"],
        postgresql_using="gin",
    )  # fmt: skip
    op.create_index("ix_custom_field_values_entity_id", "custom_field_values", ["entity_id"])


def downgrade() -> None:
    op.drop_table("custom_field_values")
    op.drop_table("custom_field_definitions")
