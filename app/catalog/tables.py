"""The catalogue's tables: the product category tree, products, and price lists with
their items (quantity breaks).

Products are never deleted, only deactivated: stock moves, quotes and orders point at
them for as long as the tenant exists, and an SKU code is never reused.
Unit prices carry four decimals (price per gram, per piece of a bulk pack); amounts
on documents are rounded to two per line (app/catalog/pricing.py).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    ForeignKey,
    Index,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    cast,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR

from app.db import record_columns, tenant_metadata

PRICE_LIST_TARGETS = ("all", "tier", "customer")

# A tree by parent: "the subtree of X" is a recursive walk down `parent_id` (indexed);
# moves change one row and are serialised per tenant (app/catalog/service.py), so the
# tree never gets a cycle.
product_categories = Table(
    "product_categories",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("parent_id", Uuid, ForeignKey("product_categories.id")),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    *record_columns(),
    UniqueConstraint("parent_id", "name", name="uq_product_categories_parent_name",
                     postgresql_nulls_not_distinct=True),
    Index("ix_product_categories_parent_id", "parent_id"),
)  # fmt: skip

products = Table(
    "products",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", Text, nullable=False),  # the SKU code, unique per tenant
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("category_id", Uuid, ForeignKey("product_categories.id")),
    Column("unit", Text, nullable=False),
    # In the tenant's base currency, tax-exclusive.
    Column("list_price", Numeric(18, 4), nullable=False),
    # A protected field (products:read_cost).
    Column("cost_price", Numeric(18, 4)),
    # 0.13 is 13 % VAT.
    Column("tax_rate", Numeric(5, 4), nullable=False, server_default="0"),
    Column("batch_tracked", Boolean, nullable=False, server_default="false"),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    # Unigrams and bigrams of code and name (app/customers/queries.text_search).
    Column(
        "search_tokens",
        ARRAY(Text),
        Computed("search_tokens(code || chr(10) || name)", persisted=True),
    ),
    UniqueConstraint("code", name="uq_products_code"),
    CheckConstraint("list_price >= 0", name="list_price"),
    CheckConstraint("cost_price >= 0", name="cost_price"),
    CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="tax_rate"),
    Index("ix_products_category_id", "category_id"),
    Index("ix_products_name", "name", "id"),
    # `code` prefixes (LIKE 'ABC-%'): the unique index follows the collation, this one
    # compares bytes, which LIKE needs.
    Index("ix_products_code_prefix", "code", postgresql_ops={"code": "text_pattern_ops"}),
    Index("ix_products_active", "active"),
    Index("ix_products_batch_tracked", "batch_tracked"),
    Index("ix_products_search_tokens", "search_tokens", postgresql_using="gin"),
)

# The list's sort key for prices. Cursors cannot carry a Decimal, so list prices sort
# by ten-thousandths (exact: numeric(18, 4) x 10^4 fits a bigint). A literal, not a
# parameter, so the index matches the statement.
LIST_PRICE_KEY = cast(products.c.list_price * literal_column("10000"), BigInteger)
Index("ix_products_list_price", LIST_PRICE_KEY, products.c.id)

# A price list applies to every customer ("all"), to the customers of one tier, or to
# one customer; in one currency, tax-inclusive (含税, the usual case in China) or not;
# from `valid_from` to `valid_to` (both days inclusive, NULL: open-ended). Lists are
# deactivated, never deleted (documents may name the list a price came from).
price_lists = Table(
    "price_lists",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("tax_inclusive", Boolean, nullable=False, server_default="true"),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("target", Text, nullable=False),
    Column("tier", Text),
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("target in ('all', 'tier', 'customer')", name="target"),
    CheckConstraint("tier in ('A', 'B', 'C')", name="tier"),
    CheckConstraint("(target = 'tier') = (tier IS NOT NULL)", name="target_tier"),
    CheckConstraint("(target = 'customer') = (customer_id IS NOT NULL)", name="target_customer"),
    CheckConstraint("valid_from <= valid_to", name="validity"),
    Index("ix_price_lists_name", "name", "id"),
    Index("ix_price_lists_created_at", "created_at", "id"),
    Index("ix_price_lists_currency", "currency"),
    Index("ix_price_lists_target", "target", "tier"),
    Index("ix_price_lists_customer_id", "customer_id"),
    Index("ix_price_lists_active", "active"),
    Index("ix_price_lists_valid_from", "valid_from"),
    Index("ix_price_lists_valid_to", "valid_to"),
)

# The prices of a list: per product, quantity breaks (from `min_quantity` on, this unit
# price). A line of quantity q gets the break with the highest min_quantity <= q.
price_list_items = Table(
    "price_list_items",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("price_list_id", Uuid, ForeignKey("price_lists.id"), nullable=False),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("min_quantity", Numeric(18, 4), nullable=False, server_default=text("0")),
    Column("unit_price", Numeric(18, 4), nullable=False),
    *record_columns(),
    CheckConstraint("min_quantity >= 0", name="min_quantity"),
    CheckConstraint("unit_price > 0", name="unit_price"),
    # Also what price resolution reads: a list's breaks of a product up to a quantity.
    UniqueConstraint("price_list_id", "product_id", "min_quantity",
                     name="uq_price_list_items_break"),
)  # fmt: skip
