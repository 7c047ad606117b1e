"""Importing a capability's jobs module registers its handlers with app.jobs.service."""

import app.customers.jobs  # noqa: F401
import app.leads.jobs  # noqa: F401
