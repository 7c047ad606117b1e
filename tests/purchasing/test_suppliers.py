"""Suppliers: create (idempotent on the client id), validation naming the field, unique
codes, optimistic versions, deactivation, listing, and the audit trail."""

from __future__ import annotations

import uuid

from helpers import make_tenant
from purchasing_helpers import (
    CREATE_PO,
    CREATE_SUPPLIER,
    SEND_PO,
    SUPPLIER_BY_ID,
    SUPPLIERS,
    UPDATE_SUPPLIER,
    codes,
)

AUDIT = """query($id: ID!) { auditLog(first: 10, filter: {entityType: "supplier",
  entityId: {eq: $id}}) { edges { node { action changes } } } }"""


async def test_create_read_update(api, buy, tenant_a):
    admin = tenant_a.tokens["admin"]
    supplier_id = str(uuid.uuid4())
    code = f"SUP-{uuid.uuid4().hex[:6]}"
    input = {
        "id": supplier_id, "code": f" {code} ", "name": "华东五金供应有限公司",
        "contactName": "李经理", "email": "Li@Example.CN", "phone": "+86 21 5555 0101",
        "address": "上海市", "paymentTermsDays": 60, "notes": "月结",
    }  # fmt: skip
    created = await buy.ok(CREATE_SUPPLIER, "createSupplier", input, admin)
    supplier = created["supplier"]
    assert supplier["id"] == supplier_id and supplier["code"] == code
    assert supplier["email"] == "li@example.cn" and supplier["currency"] == "CNY"
    assert supplier["paymentTermsDays"] == 60 and supplier["active"] and supplier["version"] == 1
    # A retry with the same content is a no-op; other content under the id conflicts.
    again = await buy.ok(CREATE_SUPPLIER, "createSupplier", input, admin)
    assert again["supplier"] == supplier
    clash = await buy.payload(CREATE_SUPPLIER, "createSupplier", {**input, "name": "别家"}, admin)
    assert codes(clash) == [("id", "CONFLICT")]
    taken = await buy.payload(CREATE_SUPPLIER, "createSupplier", {"code": code, "name": "x"}, admin)
    assert codes(taken) == [("code", "TAKEN")]
    defaults = await buy.supplier(admin)
    assert defaults["paymentTermsDays"] == 30 and defaults["currency"] == "CNY"

    read = await api.gql(SUPPLIER_BY_ID, {"id": supplier_id}, token=admin)
    assert read["supplier"] == supplier
    changed = await buy.ok(
        UPDATE_SUPPLIER, "updateSupplier",
        {"id": supplier_id, "version": 1, "currency": "usd", "phone": None, "active": False},
        admin,
    )  # fmt: skip
    assert changed["supplier"]["currency"] == "USD" and changed["supplier"]["phone"] is None
    assert changed["supplier"]["version"] == 2 and not changed["supplier"]["active"]
    stale = await buy.payload(
        UPDATE_SUPPLIER, "updateSupplier", {"id": supplier_id, "version": 1, "name": "y"}, admin
    )
    assert codes(stale) == [("version", "CONFLICT")]
    missing = await buy.payload(
        UPDATE_SUPPLIER, "updateSupplier", {"id": str(uuid.uuid4()), "version": 1}, admin
    )
    assert codes(missing) == [("id", "NOT_FOUND")]
    audit = await api.gql(AUDIT, {"id": supplier_id}, token=admin)
    actions = [e["node"]["action"] for e in audit["auditLog"]["edges"]]
    assert actions == ["supplier.update", "supplier.create"]


async def test_validation_names_the_field(buy, tenant_a):
    admin = tenant_a.tokens["admin"]
    payload = await buy.payload(
        CREATE_SUPPLIER, "createSupplier",
        {"code": "has space", "name": " ", "email": "nope", "phone": "abc",
         "paymentTermsDays": 400, "currency": "XXX", "contactName": "名" * 101},
        admin,
    )  # fmt: skip
    assert payload["supplier"] is None
    assert set(codes(payload)) == {
        ("code", "INVALID"), ("name", "REQUIRED"), ("email", "INVALID"), ("phone", "INVALID"),
        ("paymentTermsDays", "INVALID"), ("currency", "INVALID"), ("contactName", "TOO_LONG"),
    }  # fmt: skip
    supplier = await buy.supplier(admin)
    nulls = await buy.payload(
        UPDATE_SUPPLIER, "updateSupplier",
        {"id": supplier["id"], "version": 1, "name": None}, admin,
    )  # fmt: skip
    assert codes(nulls) == [("name", "REQUIRED")]


async def test_an_inactive_supplier_gets_no_orders(buy, setup):
    admin = setup["admin"]
    supplier = await buy.supplier(admin)
    order = await buy.order(admin, supplier["id"], setup["warehouse"],
                            [{"productId": setup["product"], "quantity": "1", "unitCost": "1"}])  # fmt: skip
    await buy.ok(
        UPDATE_SUPPLIER, "updateSupplier", {"id": supplier["id"], "version": 1, "active": False},
        admin,
    )  # fmt: skip
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": supplier["id"], "warehouseId": setup["warehouse"],
         "expectedDate": "2027-01-01",
         "lines": [{"productId": setup["product"], "quantity": "1", "unitCost": "1"}]},
        admin,
    )  # fmt: skip
    assert codes(payload) == [("supplierId", "SUPPLIER_INACTIVE")]
    sent = await buy.payload(SEND_PO, "sendPurchaseOrder", {"id": order["id"]}, admin)
    assert codes(sent) == [("supplierId", "SUPPLIER_INACTIVE")]
    assert (await buy.get(admin, order["id"]))["status"] == "DRAFT"


async def test_list_filters_and_sorts(api, buy, owner, services):
    tenant = await make_tenant(owner, services, "suppliers")
    admin = tenant.tokens["admin"]
    for code, name, active in (("B-02", "北方钢材", True), ("A-01", "安徽电子", True),
                               ("C-03", "长江塑料", False)):  # fmt: skip
        await buy.supplier(admin, code=code, name=name, active=active)

    async def listed(filter_=None, order=None, **window):
        data = await api.gql(
            SUPPLIERS, {"filter": filter_, "orderBy": order, **window}, token=admin
        )
        return [e["node"]["code"] for e in data["suppliers"]["edges"]], data["suppliers"]

    assert (await listed())[0] == ["A-01", "B-02", "C-03"]
    assert (await listed(order=[{"field": "CODE", "direction": "DESC"}]))[0] == [
        "C-03", "B-02", "A-01",
    ]  # fmt: skip
    assert (await listed(order=[{"field": "CREATED_AT"}]))[0] == ["B-02", "A-01", "C-03"]
    assert (await listed(order=[{"field": "NAME"}]))[0] == ["A-01", "B-02", "C-03"]  # pinyin
    assert (await listed({"active": True}))[0] == ["A-01", "B-02"]
    assert (await listed({"search": "钢材"}))[0] == ["B-02"]
    assert (await listed({"search": "c-0"}))[0] == ["C-03"]
    assert (await listed({"code": "A-01"}))[0] == ["A-01"]
    codes_, page = await listed(first=2)
    assert codes_ == ["A-01", "B-02"] and page["totalCount"] == 3
    rest, _ = await listed(first=2, after=page["pageInfo"]["endCursor"])
    assert rest == ["C-03"]
