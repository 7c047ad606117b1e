"""tenant: product categories, products, price lists, company settings

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

Additive: new tables only. Products are never deleted (stock moves and documents
point at them), only deactivated; SKU codes are unique per tenant. The company
settings row (base currency CNY) is inserted here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _record_columns() -> list[sa.Column]:
    return [
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
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "product_categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["product_categories.id"],
            name="fk_product_categories_parent_id_product_categories",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_product_categories"),
        sa.UniqueConstraint(
            "parent_id", "name", name="uq_product_categories_parent_name",
            postgresql_nulls_not_distinct=True,
        ),
    )  # fmt: skip
    op.create_index("ix_product_categories_parent_id", "product_categories", ["parent_id"])
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("list_price", sa.Numeric(18, 4), nullable=False),
        sa.Column("cost_price", sa.Numeric(18, 4), nullable=True),
        sa.Column("tax_rate", sa.Numeric(5, 4), server_default="0", nullable=False),
        sa.Column("batch_tracked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_record_columns(),
        sa.Column(
            "search_tokens", postgresql.ARRAY(sa.Text()),
            sa.Computed("search_tokens(code || chr(10) || name)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint("list_price >= 0", name="ck_products_list_price"),
        sa.CheckConstraint("cost_price >= 0", name="ck_products_cost_price"),
        sa.CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="ck_products_tax_rate"),
        sa.ForeignKeyConstraint(
            ["category_id"], ["product_categories.id"],
            name="fk_products_category_id_product_categories",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("code", name="uq_products_code"),
    )  # fmt: skip
    op.create_index("ix_products_category_id", "products", ["category_id"])
    op.create_index("ix_products_name", "products", ["name", "id"])
    op.create_index(
        "ix_products_code_prefix", "products", ["code"],
        postgresql_ops={"code": "text_pattern_ops"},
    )  # fmt: skip
    op.create_index("ix_products_active", "products", ["active"])
    op.create_index("ix_products_batch_tracked", "products", ["batch_tracked"])
    op.create_index(
        "ix_products_search_tokens", "products", ["search_tokens"], postgresql_using="gin"
    )
    op.create_index(
        "ix_products_list_price", "products",
        [sa.text("CAST(list_price * 10000 AS BIGINT)"), "id"],
    )  # fmt: skip
    op.create_table(
        "price_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("currency", postgresql.CHAR(3), nullable=False),
        sa.Column("tax_inclusive", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_record_columns(),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_price_lists_currency"),
        sa.CheckConstraint("target in ('all', 'tier', 'customer')", name="ck_price_lists_target"),
        sa.CheckConstraint("tier in ('A', 'B', 'C')", name="ck_price_lists_tier"),
        sa.CheckConstraint(
            "(target = 'tier') = (tier IS NOT NULL)", name="ck_price_lists_target_tier"
        ),
        sa.CheckConstraint(
            "(target = 'customer') = (customer_id IS NOT NULL)",
            name="ck_price_lists_target_customer",
        ),
        sa.CheckConstraint("valid_from <= valid_to", name="ck_price_lists_validity"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_price_lists_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_price_lists"),
    )
    for name, columns in (
        ("ix_price_lists_name", ["name", "id"]),
        ("ix_price_lists_created_at", ["created_at", "id"]),
        ("ix_price_lists_currency", ["currency"]),
        ("ix_price_lists_target", ["target", "tier"]),
        ("ix_price_lists_customer_id", ["customer_id"]),
        ("ix_price_lists_active", ["active"]),
        ("ix_price_lists_valid_from", ["valid_from"]),
        ("ix_price_lists_valid_to", ["valid_to"]),
    ):
        op.create_index(name, "price_lists", columns)
    op.create_table(
        "price_list_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("price_list_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("min_quantity", sa.Numeric(18, 4), server_default=sa.text("0"), nullable=False),
        sa.Column("unit_price", sa.Numeric(18, 4), nullable=False),
        *_record_columns(),
        sa.CheckConstraint("min_quantity >= 0", name="ck_price_list_items_min_quantity"),
        sa.CheckConstraint("unit_price > 0", name="ck_price_list_items_unit_price"),
        sa.ForeignKeyConstraint(
            ["price_list_id"], ["price_lists.id"],
            name="fk_price_list_items_price_list_id_price_lists",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_price_list_items_product_id_products"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_price_list_items"),
        sa.UniqueConstraint(
            "price_list_id", "product_id", "min_quantity", name="uq_price_list_items_break"
        ),
    )  # fmt: skip
    op.create_table(
        "company_settings",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("base_currency", postgresql.CHAR(3), server_default="CNY", nullable=False),
        *_record_columns(),
        sa.CheckConstraint("id", name="ck_company_settings_singleton"),
        sa.CheckConstraint(
            "base_currency ~ '^[A-Z]{3}$'", name="ck_company_settings_base_currency"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_company_settings"),
    )
    op.execute("INSERT INTO company_settings (id, base_currency) VALUES (true, 'CNY')")


def downgrade() -> None:
    op.drop_table("company_settings")
    op.drop_table("price_list_items")
    op.drop_table("price_lists")
    op.drop_table("products")
    op.drop_table("product_categories")
