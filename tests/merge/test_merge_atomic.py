"""A merge is one transaction: a failure after some rows moved leaves nothing changed;
two merges of the same customers at once end with one merge, a clean user error for
the other, no cycle and no row lost."""

from __future__ import annotations

import asyncio

import pytest
from helpers import make_tenant
from merge_helpers import (
    MERGE,
    audit_records,
    customer_row,
    fresh,
    linked_counts,
    merge_input,
    new_customer,
    populate,
)
from sqlalchemy import text


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "matom")


async def _snapshot(services, tenant, *ids: str) -> list:
    out = []
    for i in ids:
        row = await customer_row(services, tenant, i)
        out.append((row.version, row.deleted_at, row.merged_into_id, row.phone,
                    await linked_counts(services, tenant, i)))  # fmt: skip
    return out


async def test_a_failure_midway_leaves_nothing_changed(api, services, owner, tenant):
    """Appointments move after contacts, activities and tasks (app/merge/tables.py
    MOVED): a trigger refusing the appointment update fails the merge after those
    moved; afterwards every count, version and field is what it was."""
    admin = tenant.tokens["admin"]
    survivor = await new_customer(api, admin, "原子甲")
    merged = await new_customer(api, admin, "原子乙", phone="020-87654321")
    await populate(api, services, tenant, admin, survivor["id"], tag="甲")
    await populate(api, services, tenant, admin, merged["id"], tag="乙")
    survivor, merged = (
        await fresh(services, tenant, survivor),
        await fresh(services, tenant, merged),
    )
    before = await _snapshot(services, tenant, survivor["id"], merged["id"])
    schema = tenant.schema
    async with owner.begin() as conn:
        await conn.execute(text(
            f'CREATE FUNCTION "{schema}".merge_test_refuse() RETURNS trigger LANGUAGE plpgsql '
            "AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
        ))  # fmt: skip
        await conn.execute(text(
            f'CREATE TRIGGER merge_test_refuse BEFORE UPDATE ON "{schema}".appointments '
            f"FOR EACH ROW WHEN (OLD.customer_id = '{merged['id']}') "
            f'EXECUTE FUNCTION "{schema}".merge_test_refuse()'
        ))  # fmt: skip
    try:
        response = await api.post(MERGE, {"input": merge_input(survivor, merged)}, token=admin)
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "refused" not in response.text  # no database detail leaks
    finally:
        async with owner.begin() as conn:
            await conn.execute(text(f'DROP TRIGGER merge_test_refuse ON "{schema}".appointments'))
            await conn.execute(text(f'DROP FUNCTION "{schema}".merge_test_refuse()'))
    assert await _snapshot(services, tenant, survivor["id"], merged["id"]) == before
    assert await audit_records(services, tenant, merged["id"], "customer.merge") == []
    # With the obstacle gone, the same merge goes through.
    data = await api.gql(MERGE, {"input": merge_input(survivor, merged)}, token=admin)
    assert data["mergeCustomers"]["userErrors"] == []


async def _at_once(services, tenant, ids: list[str], *requests) -> list:
    """Run the requests together, held at the customers' row locks until every one
    of them waits there, then let them go: a real race, not one after the other."""
    async with services.engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(
            text(f'SELECT 1 FROM "{tenant.schema}".customers WHERE id = ANY(:ids) FOR UPDATE'),
            {"ids": ids},
        )
        running = asyncio.gather(*requests)
        for _ in range(100):
            waiting = await services.engine.connect()
            try:
                count = await waiting.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            finally:
                await waiting.close()
            if count >= len(requests):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the requests never met at the lock")
        await transaction.commit()
        return await running


@pytest.mark.parametrize("round_", range(3))
async def test_merging_each_into_the_other_at_once(api, services, tenant, round_):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, f"并发甲{round_}")
    b = await new_customer(api, admin, f"并发乙{round_}")
    await populate(api, services, tenant, admin, a["id"], tag=f"甲{round_}")
    await populate(api, services, tenant, admin, b["id"], tag=f"乙{round_}")
    a, b = await fresh(services, tenant, a), await fresh(services, tenant, b)
    total = {
        k: v + w
        for (k, v), w in zip(
            (await linked_counts(services, tenant, a["id"])).items(),
            (await linked_counts(services, tenant, b["id"])).values(),
            strict=True,
        )
    }
    results = await _at_once(
        services, tenant, [a["id"], b["id"]],
        api.gql(MERGE, {"input": merge_input(a, b)}, token=admin),
        api.gql(MERGE, {"input": merge_input(b, a)}, token=admin),
    )  # fmt: skip
    payloads = [r["mergeCustomers"] for r in results]
    won = [p for p in payloads if not p["userErrors"]]
    lost = [p for p in payloads if p["userErrors"]]
    assert len(won) == 1 and len(lost) == 1, payloads
    assert lost[0]["customer"] is None
    assert {e["code"] for e in lost[0]["userErrors"]} <= {"MERGED", "CONFLICT"}
    survivor_id = won[0]["customer"]["id"]
    merged_id = b["id"] if survivor_id == a["id"] else a["id"]
    survivor_row = await customer_row(services, tenant, survivor_id)
    merged_row = await customer_row(services, tenant, merged_id)
    assert survivor_row.deleted_at is None and survivor_row.merged_into_id is None  # no cycle
    assert merged_row.deleted_at is not None and str(merged_row.merged_into_id) == survivor_id
    assert await linked_counts(services, tenant, survivor_id) == total  # nothing lost
    assert set((await linked_counts(services, tenant, merged_id)).values()) == {0}


async def test_merging_one_customer_into_two_at_once(api, services, tenant):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "争夺甲")
    b = await new_customer(api, admin, "争夺乙")
    c = await new_customer(api, admin, "争夺丙")
    await populate(api, services, tenant, admin, a["id"], tag="争")
    a = await fresh(services, tenant, a)
    moved = await linked_counts(services, tenant, a["id"])
    results = await _at_once(
        services, tenant, [a["id"]],
        api.gql(MERGE, {"input": merge_input(b, a)}, token=admin),
        api.gql(MERGE, {"input": merge_input(c, a)}, token=admin),
    )  # fmt: skip
    payloads = [r["mergeCustomers"] for r in results]
    assert sorted(bool(p["userErrors"]) for p in payloads) == [False, True]
    (lost,) = [p for p in payloads if p["userErrors"]]
    assert [e["code"] for e in lost["userErrors"]] == ["MERGED"]
    (won,) = [p for p in payloads if not p["userErrors"]]
    assert await linked_counts(services, tenant, won["customer"]["id"]) == moved


LOG_ACTIVITY = """mutation($input: LogActivityInput!) {
  logActivity(input: $input) { activity { id } userErrors { field code } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } userErrors { field code } } }"""


async def test_nothing_is_attached_to_a_customer_merged_away_meanwhile(
    api, services, owner, tenant
):
    """A write referencing a customer while a merge holds it waits, then sees the
    customer gone (NOT_FOUND) instead of attaching to the merged-away row."""
    admin = tenant.tokens["admin"]
    survivor = await new_customer(api, admin, "并发甲")
    merged = await new_customer(api, admin, "并发乙")
    schema = tenant.schema
    async with owner.connect() as merging:
        transaction = await merging.begin()
        # What a merge does to the merged customer, held open.
        await merging.execute(
            text(f'SELECT 1 FROM "{schema}".customers WHERE id = :id FOR UPDATE'),
            {"id": merged["id"]},
        )
        await merging.execute(
            text(f'UPDATE "{schema}".customers SET deleted_at = now(), merged_into_id = :s '
                 "WHERE id = :id"),
            {"id": merged["id"], "s": survivor["id"]},
        )  # fmt: skip
        writes = asyncio.gather(
            api.gql(LOG_ACTIVITY, {"input": {"customerId": merged["id"], "kind": "CALL",
                                             "subject": "迟到的电话"}}, token=admin),
            api.gql(CREATE_OPPORTUNITY, {"input": {"customerId": merged["id"],
                                                   "name": "迟到的商机", "amount": "100.00"}},
                    token=admin),
        )  # fmt: skip
        for _ in range(200):
            async with services.engine.connect() as probe:
                count = await probe.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if count >= 2:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the writes never waited for the merge")
        await transaction.commit()
        activity, opportunity = await writes
    assert activity["logActivity"]["userErrors"] == [{"field": "customerId", "code": "NOT_FOUND"}]
    assert opportunity["createOpportunity"]["userErrors"] == [
        {"field": "customerId", "code": "NOT_FOUND"}
    ]
    counts = await linked_counts(services, tenant, merged["id"])
    assert counts["activities"] == 0 and counts["opportunities"] == 0
