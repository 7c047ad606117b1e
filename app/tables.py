"""Every tenant table, imported so the metadata is complete (migration checks, tests)."""

from app.audit.tables import audit_log
from app.auth.tables import roles
from app.customers.tables import contacts, customers
from app.jobs.tables import jobs, uploads
from app.teams.tables import teams
from app.users.tables import users

__all__ = ["audit_log", "contacts", "customers", "jobs", "roles", "teams", "uploads", "users"]
