"""Every tenant table, imported so the metadata is complete (migration checks, tests)."""

from app.activities.tables import activities, appointments, notifications, tasks
from app.audit.tables import audit_log
from app.auth.tables import roles
from app.billing.tables import (
    credit_note_lines,
    credit_notes,
    invoice_lines,
    invoices,
    payment_allocations,
    payments,
    sales_return_lines,
    sales_returns,
    shipment_lines,
    shipments,
)
from app.catalog.tables import price_list_items, price_lists, product_categories, products
from app.company.tables import company_settings
from app.custom_fields.tables import custom_field_definitions, custom_field_values
from app.customers.tables import contacts, customers
from app.jobs.tables import jobs, uploads
from app.leads.tables import lead_assignment_rules, leads
from app.merge import tables as _merge_tables  # noqa: F401  (merged_into_id, match keys)
from app.orders.tables import quote_lines, quotes, sales_order_lines, sales_orders
from app.pipeline.tables import (
    opportunities,
    opportunity_stage_history,
    opportunity_stage_stays,
    pipeline_stages,
    pipelines,
    stage_entry_days,
    stage_exit_days,
    stage_sets,
)
from app.pool.tables import customer_ownership_changes, pool_settings
from app.purchasing.tables import (
    goods_receipt_lines,
    goods_receipts,
    purchase_order_lines,
    purchase_orders,
    suppliers,
)
from app.stock.tables import (
    batches,
    reorder_rules,
    stock_batch_levels,
    stock_levels,
    stock_moves,
    stock_postings,
    stock_reservations,
    stock_take_lines,
    stock_takes,
    warehouses,
)
from app.targets.tables import sales_targets
from app.teams.tables import teams
from app.tiers.tables import customer_tier_changes, tier_rules
from app.users.tables import users

__all__ = [
    "activities",
    "appointments",
    "audit_log",
    "batches",
    "company_settings",
    "contacts",
    "credit_note_lines",
    "credit_notes",
    "custom_field_definitions",
    "custom_field_values",
    "customer_ownership_changes",
    "customer_tier_changes",
    "customers",
    "goods_receipt_lines",
    "goods_receipts",
    "invoice_lines",
    "invoices",
    "jobs",
    "lead_assignment_rules",
    "leads",
    "notifications",
    "opportunities",
    "opportunity_stage_history",
    "opportunity_stage_stays",
    "payment_allocations",
    "payments",
    "pipeline_stages",
    "pipelines",
    "pool_settings",
    "price_list_items",
    "price_lists",
    "product_categories",
    "products",
    "purchase_order_lines",
    "purchase_orders",
    "quote_lines",
    "quotes",
    "reorder_rules",
    "roles",
    "sales_order_lines",
    "sales_orders",
    "sales_return_lines",
    "sales_returns",
    "sales_targets",
    "stage_entry_days",
    "stage_exit_days",
    "shipment_lines",
    "shipments",
    "stage_sets",
    "stock_batch_levels",
    "stock_levels",
    "stock_moves",
    "stock_postings",
    "stock_reservations",
    "stock_take_lines",
    "stock_takes",
    "suppliers",
    "tasks",
    "teams",
    "tier_rules",
    "uploads",
    "users",
    "warehouses",
]

# Every catalog table, likewise.
from app.accounts.tables import (  # noqa: E402
    accounts,
    external_identities,
    identity_providers,
    memberships,
    password_resets,
)
from app.oauth.tables import authorization_codes, oauth_clients, refresh_tokens  # noqa: E402
from tenants.catalog import outbox, signing_keys, tenants  # noqa: E402

CATALOG_TABLES = [
    accounts,
    authorization_codes,
    external_identities,
    identity_providers,
    memberships,
    oauth_clients,
    outbox,
    password_resets,
    refresh_tokens,
    signing_keys,
    tenants,
]
