"""The company itself (DOMAIN.md section 10, administration): tenant-wide settings
such as the base currency that money without a currency of its own is in."""
