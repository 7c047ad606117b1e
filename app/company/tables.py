"""The company's settings: one row per tenant (the migration inserts it)."""

from sqlalchemy import Boolean, CheckConstraint, Column, Numeric, Table, text
from sqlalchemy.dialects.postgresql import CHAR

from app.db import record_columns, tenant_metadata

# `id` is always true. `base_currency` is what products' list and cost prices and
# customers' credit limits are in (ISO 4217). Line discounts above
# `discount_limit_percent` need prices:override (app/orders/lines.py).
company_settings = Table(
    "company_settings",
    tenant_metadata,
    Column("id", Boolean, primary_key=True, server_default=text("true")),
    Column("base_currency", CHAR(3), nullable=False, server_default="CNY"),
    Column("discount_limit_percent", Numeric(5, 2), nullable=False, server_default="10"),
    *record_columns(),
    CheckConstraint("id", name="singleton"),
    CheckConstraint("base_currency ~ '^[A-Z]{3}$'", name="base_currency"),
    CheckConstraint(
        "discount_limit_percent >= 0 AND discount_limit_percent <= 100",
        name="discount_limit_percent",
    ),
)
