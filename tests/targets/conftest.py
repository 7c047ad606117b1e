"""The sales organisation every target test reads: a department tree, people in it,
won (and other) deals at known instants, and targets set by the admin. Expected
numbers are worked out in Python from these lists alone (target_model.py)."""

from __future__ import annotations

import pytest
from target_helpers import add_deals, build_org, set_targets
from target_model import DEALS, PEOPLE, TARGETS, TEAMS, target_input


@pytest.fixture(scope="session")
async def org(api, owner, services):
    org = await build_org(api, owner, services, "targets", TEAMS, PEOPLE)
    await add_deals(services, org.tenant, [
        {"owner": org.ids[d.owner], "amount": d.amount, "currency": d.currency,
         "status": d.status, "closed_at": d.closed, "deleted": d.deleted}
        for d in DEALS
    ])  # fmt: skip
    payload = await set_targets(api, org.tokens["admin"], [target_input(org, t) for t in TARGETS])
    assert payload["userErrors"] == [], payload
    return org
