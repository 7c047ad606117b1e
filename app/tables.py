"""Every tenant table, imported so the metadata is complete (migration checks, tests)."""

from app.audit.tables import audit_log
from app.customers.tables import contacts, customers
from app.jobs.tables import jobs, uploads
from app.users.tables import users

__all__ = ["audit_log", "contacts", "customers", "jobs", "uploads", "users"]
