"""Custom fields (自定义字段): tenant-defined fields on customers, contacts, leads and
opportunities, stored as typed rows (EAV) so defining or removing a field never runs
DDL or locks a table. Lists filter (service.field_condition) and sort
(sorting.CustomFieldSort) on them through the values index.

Required fields bind the API's creates and updates; writers that pass no custom
values (imports, lead conversion) are not held to them. Converting a lead carries no
custom values over: fields belong to one entity, and nothing maps a lead's fields to
the customer's, contact's or opportunity's."""
