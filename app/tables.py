"""Every tenant table, imported so the metadata is complete (migration checks, tests)."""

from app.activities.tables import activities, appointments, notifications, tasks
from app.audit.tables import audit_log
from app.auth.tables import roles
from app.custom_fields.tables import custom_field_definitions, custom_field_values
from app.customers.tables import contacts, customers
from app.jobs.tables import jobs, uploads
from app.leads.tables import lead_assignment_rules, leads
from app.merge import tables as _merge_tables  # noqa: F401  (merged_into_id, match keys)
from app.pipeline.tables import (
    opportunities,
    opportunity_stage_history,
    pipeline_stages,
    pipelines,
)
from app.pool.tables import customer_ownership_changes, pool_settings
from app.targets.tables import sales_targets
from app.teams.tables import teams
from app.tiers.tables import customer_tier_changes, tier_rules
from app.users.tables import users

__all__ = [
    "activities",
    "appointments",
    "audit_log",
    "contacts",
    "custom_field_definitions",
    "custom_field_values",
    "customer_ownership_changes",
    "customer_tier_changes",
    "customers",
    "jobs",
    "lead_assignment_rules",
    "leads",
    "notifications",
    "opportunities",
    "opportunity_stage_history",
    "pipeline_stages",
    "pipelines",
    "pool_settings",
    "roles",
    "sales_targets",
    "tasks",
    "teams",
    "tier_rules",
    "uploads",
    "users",
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
