"""Shipments, sales returns, invoices, credit notes, payments and receivables: the
back half of order to cash (see app/billing/tables.py)."""
