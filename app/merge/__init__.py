"""Duplicate customers and merging them (客户合并).

- `duplicateCustomers` (customers:read) lists candidate pairs, both customers live and
  visible to the caller, with a score and the evidence (NAME, PHONE, EMAIL): a
  self-join on keys the database stores with every customer (`tables.py`, migration
  0008), answered from their indexes (`queries.py`). Scores and the filling rule are
  in `rules.py`.
- `mergeCustomers` (customers:merge) merges one customer into another in one
  transaction (`service.py`): everything pointing at it moves to the survivor, the
  survivor fills its empty fields, the merged customer is soft-deleted with
  `merged_into_id`, both get an audit record.
- A merged customer stays readable: `customer(id)` answers it with `deletedAt` like
  any deleted customer, and `customerMergedInto(id)` follows `merged_into_id` (over
  several merges) to the customer it ended up in. Restoring it is refused by the
  database (a merged customer is always deleted); lists leave it out.
"""
