"""`goodsReceipts` and `goodsReceipt(id)`: every filter (supplier, purchase order,
warehouse, receipt date range, number), the sort by receipt date then id both ways,
keyset pages, the lines with their products and batches, who may read them
(purchasing:read), and another tenant seeing, counting and inferring nothing."""

from __future__ import annotations

import pytest
from helpers import make_tenant, operation
from purchasing_helpers import role_token

LIST = operation("goodsReceipts")
ONE = operation("goodsReceipt")


@pytest.fixture(scope="module")
async def world(owner, services, buy):
    """Five receipts of three orders (two suppliers, two warehouses), on four days."""
    tenant = await make_tenant(owner, services, "grlist")
    admin = tenant.tokens["admin"]
    s1, s2 = [(await buy.supplier(admin))["id"] for _ in range(2)]
    w1, w2 = await buy.warehouse(admin), await buy.warehouse(admin)
    plain, lot = await buy.product(admin), await buy.product(admin, batch_tracked=True)

    async def sent(supplier, warehouse, *lines):
        order = await buy.order(admin, supplier, warehouse, [
            {"productId": p, "quantity": q, "unitCost": "1"} for p, q in lines
        ])  # fmt: skip
        return await buy.send(admin, order)

    async def receive(order, day, *lines):
        payload = await buy.receive(admin, order["id"], list(lines), receivedOn=day)
        assert payload["userErrors"] == []
        return payload["receipt"]

    po1 = await sent(s1, w1, (plain, "10"), (lot, "5"))
    po2 = await sent(s2, w2, (plain, "10"))
    po3 = await sent(s1, w2, (plain, "5"))
    p1, l1 = po1["lines"][0]["id"], po1["lines"][1]["id"]
    receipts = {
        "r1": await receive(po1, "2027-05-01", {"orderLineId": p1, "quantity": "2"}),
        "r2": await receive(po1, "2027-05-03", {"orderLineId": p1, "quantity": "3"},
                            {"orderLineId": l1, "quantity": "5", "batchCode": "B-1",
                             "expiresOn": "2028-01-01"}),
        "r3": await receive(po2, "2027-05-02",
                            {"orderLineId": po2["lines"][0]["id"], "quantity": "4"}),
        "r4": await receive(po2, "2027-05-03",
                            {"orderLineId": po2["lines"][0]["id"], "quantity": "1"}),
        "r5": await receive(po3, "2027-05-04",
                            {"orderLineId": po3["lines"][0]["id"], "quantity": "5"}),
    }  # fmt: skip
    other = await make_tenant(owner, services, "grlistb")
    return {
        "tenant": tenant, "other": other, "admin": admin, "s1": s1, "s2": s2, "w1": w1,
        "w2": w2, "plain": plain, "lot": lot, "po1": po1, "po2": po2, "po3": po3,
        "receipts": receipts,
    }  # fmt: skip


def _sorted(world, names, *, newest_first=True) -> list[str]:
    found = [world["receipts"][n] for n in names]
    ordered = sorted(found, key=lambda r: (r["receivedOn"], r["id"]), reverse=newest_first)
    return [r["id"] for r in ordered]


async def _ids(api, token, filter_=None, order=None, first=20, after=None) -> tuple[list, dict]:
    data = await api.gql(
        LIST, {"filter": filter_, "orderBy": order, "first": first, "after": after}, token=token
    )
    page = data["goodsReceipts"]
    return [e["node"]["id"] for e in page["edges"]], page


async def test_filters(api, world):
    admin = world["admin"]
    r = world["receipts"]
    every = ["r1", "r2", "r3", "r4", "r5"]
    cases = [
        (None, every),
        ({"supplierId": {"eq": world["s1"]}}, ["r1", "r2", "r5"]),
        ({"supplierId": {"in": [world["s2"]]}}, ["r3", "r4"]),
        ({"purchaseOrderId": {"eq": world["po2"]["id"]}}, ["r3", "r4"]),
        ({"warehouseId": {"eq": world["w2"]}}, ["r3", "r4", "r5"]),
        ({"receivedOn": {"gte": "2027-05-02", "lte": "2027-05-03"}}, ["r2", "r3", "r4"]),
        ({"receivedOn": {"gte": "2027-05-04"}}, ["r5"]),
        ({"number": {"eq": r["r1"]["number"]}}, ["r1"]),
        ({"number": {"in": [r["r1"]["number"], r["r5"]["number"]]}}, ["r1", "r5"]),
        ({"supplierId": {"eq": world["s1"]}, "warehouseId": {"eq": world["w2"]}}, ["r5"]),
        ({"supplierId": {"eq": world["s2"]}, "warehouseId": {"eq": world["w1"]}}, []),
    ]
    for filter_, expected in cases:
        ids, page = await _ids(api, admin, filter_)
        assert ids == _sorted(world, expected), filter_
        assert page["totalCount"] == len(expected), filter_
    errors = await api.errors(LIST, {"filter": {"supplierId": {"eq": "nope"}}}, token=admin)
    assert "supplierId" in errors[0]["message"]


async def test_sort_and_keyset_pages(api, world):
    admin = world["admin"]
    every = ["r1", "r2", "r3", "r4", "r5"]
    oldest_first = _sorted(world, every, newest_first=False)
    ids, _ = await _ids(api, admin, order={"direction": "ASC"})
    assert ids == oldest_first
    ids, _ = await _ids(api, admin, order={"field": "RECEIVED_ON", "direction": "DESC"})
    assert ids == oldest_first[::-1]
    walked, after = [], None
    while True:
        ids, page = await _ids(api, admin, first=2, after=after)
        walked += ids
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == oldest_first[::-1]


async def test_lines_products_batches_and_order(api, world):
    r2 = world["receipts"]["r2"]
    ids, page = await _ids(api, world["admin"], {"number": {"eq": r2["number"]}})
    node = page["edges"][0]["node"]
    assert node["receivedOn"] == "2027-05-03" and node["warehouseId"] == world["w1"]
    assert node["purchaseOrder"]["number"] == world["po1"]["number"]
    assert node["purchaseOrder"]["supplier"]["id"] == world["s1"]
    lines = [(x["product"]["id"], x["quantity"], x["batch"] and x["batch"]["code"])
             for x in node["lines"]]  # fmt: skip
    assert lines == [(world["plain"], "3.000", None), (world["lot"], "5.000", "B-1")]
    one = (await api.gql(ONE, {"id": r2["id"]}, token=world["admin"]))["goodsReceipt"]
    assert one["number"] == r2["number"] and one["lines"] == node["lines"]
    assert one["purchaseOrder"]["status"] == "PARTIALLY_RECEIVED"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("manager", True), ("warehouse", True), ("sales", False),
     ("viewer", False), ("service", False), ("partner", False)],
)  # fmt: skip
async def test_purchasing_read_is_needed(api, services, world, role, allowed):
    tenant = world["tenant"]
    token = tenant.tokens.get(role) or await role_token(services, tenant, role)
    for query, variables in ((LIST, {}), (ONE, {"id": world["receipts"]["r1"]["id"]})):
        body = (await api.post(query, variables, token=token)).json()
        if allowed:
            assert not body.get("errors"), body
        else:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert not any((body["data"] or {}).values()), body
    if allowed:
        ids, page = await _ids(api, token)
        assert page["totalCount"] == 5 and len(ids) == 5


async def test_another_tenant_sees_counts_and_infers_nothing(api, world):
    token = world["other"].tokens["admin"]
    r = world["receipts"]
    for filter_ in (
        None,
        {"supplierId": {"eq": world["s1"]}},
        {"purchaseOrderId": {"eq": world["po1"]["id"]}},
        {"warehouseId": {"eq": world["w1"]}},
        {"receivedOn": {"gte": "2027-05-01", "lte": "2027-05-04"}},
        {"number": {"in": [x["number"] for x in r.values()]}},
    ):
        ids, page = await _ids(api, token, filter_)
        assert (ids, page["totalCount"]) == ([], 0), filter_
    for receipt in r.values():
        assert (await api.gql(ONE, {"id": receipt["id"]}, token=token))["goodsReceipt"] is None
