"""Quotes and sales orders: from a priced offer to a confirmed order with reserved stock
(DOMAIN.md section 4)."""
