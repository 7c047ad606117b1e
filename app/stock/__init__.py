"""Stock (库存 / 进销存): warehouses, batches, the stock ledger, reservations, stock takes
and reorder rules.

- `tables.py`: the ledger (`stock_moves`, grouped by `stock_postings`), its balances
  (`stock_levels`, `stock_batch_levels`), `stock_reservations`, `stock_takes`,
  `reorder_rules`, `warehouses`, `batches`.
- `service.py`: the API other capabilities call in their own transaction (receive,
  issue, transfer, adjust, return_in, reserve, release, issue_reserved, availability);
  `ledger.py` is how it locks, checks and writes.
- `takes.py` (stock takes), `reorder.py` (rules, lowStock, the alerts), `warehouses.py`.
- `queries.py`, `types.py`, `graphql.py`, `inputs.py`, `mutations.py`: the API.
- `jobs.py`: the low-stock alert cron.
"""
