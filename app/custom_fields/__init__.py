"""Custom fields (自定义字段): tenant-defined fields on business records, stored as
typed rows (EAV) so defining or removing a field never runs DDL or locks a table."""
