"""The public pool (公海) and customer ownership.

Customers without an owner form the pool, which reps with the own and team scopes see
and claim from (`claimCustomers`, up to the tenant's claim limit); owners put customers
back (`releaseCustomers`); managers move them between people (`transferCustomers`);
and an hourly job returns customers nobody has followed up for the tenant's reclaim
period (`reclaim.py`). Every ownership change, whichever path made it (including
`createCustomer` / `updateCustomer` with an owner), is kept in
`customer_ownership_changes` (客户转移记录) next to its audit record.
"""
