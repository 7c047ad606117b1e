"""Catalogue: products, their category tree and price lists (DOMAIN.md section 4)."""
