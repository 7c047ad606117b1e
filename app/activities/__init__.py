"""Follow-up work around customers (DOMAIN.md sections 1 and 8): activities (the log
of calls, visits, emails, notes and meetings), tasks, appointments with overlap
warnings, the customer timeline, and reminders into each user's inbox."""
