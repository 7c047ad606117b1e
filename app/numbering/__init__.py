"""Human-readable document numbers per tenant and document type (SO-2026-000123)."""
